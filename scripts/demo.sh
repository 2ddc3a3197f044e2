#!/usr/bin/env bash
# The main job on a real example, set-up included: `bash scripts/demo.sh` (as root, fresh Debian machine).
# Starts four sshd hosts on loopback, then: essh hosts, essh plan -o plan.bin, essh show, essh apply plan.bin.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DEMO_DIR="${DEMO_DIR:-$(mktemp -d)}"
exec python3 examples/demo/run_demo.py
