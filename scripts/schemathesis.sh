#!/usr/bin/env bash
# Property-based test of the agent API against its OpenAPI document (schemathesis, PyPI): starts
# a real broker (`countersign serve`) on a temp data dir and a free port, adds an agent, and runs
# a bounded number of generated requests per route, checking that no answer is a 5xx and that
# every answer (errors included: `{code, message}`) matches the documented schema.
# Needs target/debug/countersign (scripts/build.sh or `cargo build -p countersign-cli`) and
# schemathesis 4.x (scripts/setup.sh --test). COUNTERSIGN_SCHEMATHESIS_EXAMPLES sets the number
# of examples per operation (default 100).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/lib.sh
PATH="$PATH:$(python3 -m site --user-base)/bin" # where `pip install --user` puts schemathesis
bin="$root/target/debug/countersign"
[ -x "$bin" ] || cargo build -q -p countersign-cli
dir=$(mktemp -d)
pid=""
cleanup() {
  status=$?
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
  exit "$status"
}
trap cleanup EXIT
export COUNTERSIGN_KEY_STORE=file COUNTERSIGN_KEY_PASSPHRASE='schemathesis-passphrase' \
  COUNTERSIGN_DATA_DIR="$dir" COUNTERSIGN_APPROVER=schemathesis
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=$("$bin" agent add fuzz --token-only)
"$bin" serve --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -fsS "$base/v1/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/v1/openapi.json" >/dev/null || { cat "$dir/serve.log" >&2; exit 1; }
# scripts/schemathesis.toml pins `wait` to 0; the stateful phase is left out for the same reason.
cd "$dir" # schemathesis keeps a .schemathesis/ cache in the working directory
schemathesis --config-file "$root/scripts/schemathesis.toml" run "$base/v1/openapi.json" \
  --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "${COUNTERSIGN_SCHEMATHESIS_EXAMPLES:-100}" \
  --request-timeout 20 \
  --generation-deterministic \
  --no-color "$@"
