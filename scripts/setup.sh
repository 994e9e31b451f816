#!/usr/bin/env bash
# One-time, idempotent set-up on Debian 12: apt packages, ONNX Runtime, models, test media and test streams.
# Quiet when everything is already in place. Used by scripts/main.sh and scripts/test.sh (the README's commands).
#
#   scripts/setup.sh            # everything the service and the tests need
#
# Everything fetched is pinned by sha256 in models/fetch.toml and testdata/fetch.toml (see scripts/fetch.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

APT_PACKAGES=(
  # build
  build-essential pkg-config curl ca-certificates
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  # run: decoders (VP8/VP9/Opus in good, H.264/AAC in libav), webrtc bits, tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-nice
  gstreamer1.0-libav gstreamer1.0-tools gstreamer1.0-plugins-base-apps
  # fetch + test-stream building
  python3 python3-numpy python3-pil
  # test media: OpenCV's scene-text samples
  opencv-doc
  # live tests: H.264 test senders (x264enc), the applicant's phone (headless Chromium driven by playwright-core)
  gstreamer1.0-plugins-ugly chromium
  # store tests: a real PostgreSQL server started on loopback by the tests
  postgresql
)

say() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "need root (or sudo) to install: ${missing[*]}"
    SUDO="sudo"
  fi
  say "installing apt packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || die "cargo not found: install Rust 1.95 (rustup) first"

# ONNX Runtime, as-shipped models, test media (sha256-checked; no network when already present).
/usr/bin/python3 scripts/fetch.py models/fetch.toml testdata/fetch.toml

# Recorded test streams built from the real media (idempotent).
bash testdata/build_streams.sh >/dev/null

# The headless-browser driver (playwright-core, pinned in tests/e2e/package-lock.json; drives /usr/bin/chromium).
if ! command -v node >/dev/null; then
  say "installing nodejs"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "Node.js >= 20 is needed for playwright-core (found $(node --version))"
if [[ ! -f tests/e2e/node_modules/.package-lock.json ]] || ! cmp -s tests/e2e/package-lock.json tests/e2e/node_modules/.lock-stamp 2>/dev/null; then
  say "installing the browser driver (npm ci in tests/e2e)"
  npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error >/dev/null
  cp tests/e2e/package-lock.json tests/e2e/node_modules/.lock-stamp
fi

# Fake camera and microphone files for the browser tests, made from the test stream (idempotent).
bash testdata/build_fake_capture.sh >/dev/null
