#!/usr/bin/env bash
# Install, from Debian's packages and only when missing, the real components the test suite drives:
# a PostgreSQL server (monitoring store), Chromium (the report's browser tests) and a Java runtime
# (Spark in local mode). Needs apt and root (or sudo); prints what it does on stderr.
set -euo pipefail
want=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
[ -x /usr/bin/chromium ] || want+=(chromium)
command -v java >/dev/null 2>&1 || want+=(default-jre-headless)
if [ "${#want[@]}" -eq 0 ]; then
  echo "system packages: all present" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
echo "system packages: installing ${want[*]}" >&2
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >&2
