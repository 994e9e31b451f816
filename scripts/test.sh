#!/usr/bin/env bash
# All tests: set up (idempotent), then the fetcher's self-test, the applicant page's browser tests (headless
# Chromium), and the Rust test suite (unit, integration — including live calls from headless Chromium and
# webrtcbin senders, and the store on SQLite and a real PostgreSQL — and doc tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
/usr/bin/python3 -m unittest -q scripts/test_fetch.py
node --test tests/e2e/
cargo test --quiet --all-targets
cargo test --quiet --doc
