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
