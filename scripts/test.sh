#!/usr/bin/env bash
# The whole test suite, set-up included: `bash scripts/test.sh` (as root, on a fresh Debian machine).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec python3 -m pytest -q "$@"
