#!/usr/bin/env bash
# The main job: set up (idempotent), build, verify the models, then run the service — `facereview serve`: the lender
# API, the applicant page, WebRTC ingest, live analysis and verdicts, with the embedded SQLite store in data/ and
# the bundled models (docs/live-protocol.md). The bundled Helsinki POI data backs the location check. Extra
# arguments go to `facereview serve` (e.g. --listen 0.0.0.0:8080 --public-url https://... --webhook URL).
# Stop with Ctrl-C / SIGTERM: live calls are finalised (recording + verdict) before it exits.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cargo build --release --quiet
./target/release/facereview models verify
exec ./target/release/facereview serve --pois testdata/media/Helsinki.osm.pbf "$@"
