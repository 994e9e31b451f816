#!/usr/bin/env bash
# All tests: set up (idempotent), then the fetcher's self-test and the Rust test suite (unit, integration, doc).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
/usr/bin/python3 -m unittest -q scripts/test_fetch.py
cargo test --quiet --all-targets
cargo test --quiet --doc
