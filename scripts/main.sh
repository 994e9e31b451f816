#!/usr/bin/env bash
# The main job: set up (idempotent), build, verify the models, and replay the bundled recorded test stream (a real
# talking head with a two-speaker conversation) with its session file and the Helsinki POI data, through every
# model, check and the fusion policy, comparing the verdict with the golden one. Extra arguments go to
# `facereview replay` (e.g. --json).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cargo build --release --quiet
./target/release/facereview models verify
exec ./target/release/facereview replay testdata/streams/live_two_speakers.webm \
  --session testdata/sessions/second_speaker.json --pois testdata/media/Helsinki.osm.pbf \
  --expect testdata/expected/second_speaker.verdict.json "$@"
