#!/usr/bin/env bash
# Installs the Debian packages whose servers and tools the tests start themselves, when missing.
# Usage: install-system-packages.sh <binary>=<package> ...
# Idempotent: a binary already on PATH costs nothing. Not root and no apt-get: says which are
# missing and fails, so a missing server is an install error, never a skipped test.
set -euo pipefail
missing=()
for pair in "$@"; do
  binary="${pair%%=*}" package="${pair#*=}"
  command -v "$binary" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing system packages: ${missing[*]} (install them with apt-get as root)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing system packages: ${missing[*]}"
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
  || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
