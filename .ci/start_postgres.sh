#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for the monitoring tests and print the export line:
#   eval "$(.ci/start_postgres.sh)"    # sets WELFARE_EVAL_TEST_PG_URL and WELFARE_EVAL_TEST_PG_STOP
#   ... run the tests ...
#   eval "$WELFARE_EVAL_TEST_PG_STOP"
# Installs Debian's `postgresql` package when no server binaries exist (needs apt and root).
# Everything but the two export lines goes to stderr.
set -euo pipefail

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

BINDIR="$(find_bindir || true)"
if [ -z "$BINDIR" ]; then
  echo "start_postgres: installing postgresql with apt-get" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
  BINDIR="$(find_bindir)"
fi

ROOT="$(mktemp -d /tmp/welfare_eval_pg.XXXXXX)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
RUN=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$ROOT"
  chmod 700 "$ROOT"
  RUN=(runuser -u postgres --)
fi
"${RUN[@]}" "$BINDIR/initdb" -D "$ROOT/data" -U postgres -A trust -E UTF8 --no-locale --no-sync >&2
"${RUN[@]}" "$BINDIR/pg_ctl" -D "$ROOT/data" -l "$ROOT/log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $ROOT -c fsync=off" start >&2

STOP="${RUN[*]} $BINDIR/pg_ctl -D $ROOT/data -m fast -w stop >/dev/null && rm -rf $ROOT"
echo "export WELFARE_EVAL_TEST_PG_URL='postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres'"
echo "export WELFARE_EVAL_TEST_PG_STOP='$STOP'"
