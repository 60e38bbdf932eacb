#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster, then stops and deletes it:
#   scripts/pg-test.sh cargo test -p countersign-store --test store backends::postgres
# The cluster is made with Debian's package (/usr/lib/postgresql/<version>/bin, installed by
# scripts/setup.sh --test) in a temporary directory, listens on a free port of 127.0.0.1 only,
# logs in with a random password (scram-sha-256), and runs with fsync=off (it holds test data
# only). The command sees its URL in COUNTERSIGN_TEST_PG; tests create one database per test.
# initdb refuses to run as root: as root the cluster runs as the `postgres` user (runuser).
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: scripts/pg-test.sh COMMAND [ARGS...]" >&2; exit 2; }
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "${bindir:-}/initdb" ] || { echo "pg-test.sh: PostgreSQL is not installed (apt-get install postgresql, or scripts/setup.sh --test)" >&2; exit 1; }

dir=$(mktemp -d /tmp/countersign-pg.XXXXXX)
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$dir"
  as_pg=(runuser -u postgres --)
fi
chmod 700 "$dir"
stop() {
  "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$password" > "$dir/pw"
[ ${#as_pg[@]} -gt 0 ] && chown postgres: "$dir/pw"
"${as_pg[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pw" \
  --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
rm -f "$dir/pw"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
echo "pg-test.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir)" >&2

export COUNTERSIGN_TEST_PG="postgres://postgres:$password@127.0.0.1:$port/postgres"
status=0
"$@" || status=$?
exit $status
