#!/usr/bin/env bash
# initdb refuses to run as root: the prod-profile tests run Postgres as the `postgres` user.
# Debian's postgresql package creates it; this makes sure it exists where the binaries came
# from elsewhere. Idempotent; not root: nothing to do (the tests then run Postgres as you).
set -euo pipefail
[ "$(id -u)" = 0 ] || exit 0
id -u postgres >/dev/null 2>&1 && exit 0
echo "creating the system user postgres (to run the tests' Postgres server)"
useradd --system --no-create-home --shell /usr/sbin/nologin postgres
