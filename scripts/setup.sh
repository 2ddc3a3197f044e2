#!/usr/bin/env bash
# Installs everything essh's tests and demo need on a fresh Debian machine (run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/setup.sh: run as root (it installs Debian packages and creates the test user)" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
# sshd for the test hosts; ssh, scp, ssh-keygen and ssh-agent (essh ssh/scp, signatures); git (modules).
if ! command -v /usr/sbin/sshd >/dev/null || ! command -v sudo >/dev/null || ! command -v pgrep >/dev/null \
   || ! command -v scp >/dev/null || ! command -v ssh-agent >/dev/null || ! command -v git >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends openssh-server openssh-client sudo procps git >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -e '.[test]'
