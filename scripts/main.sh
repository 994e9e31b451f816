#!/usr/bin/env bash
# The main job: set up (idempotent), build, and replay the bundled recorded test stream through every model.
# Extra arguments go to `facereview replay` (e.g. --json).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cargo build --release --quiet
./target/release/facereview models verify
exec ./target/release/facereview replay testdata/streams/live_two_speakers.webm "$@"
