#!/usr/bin/env bash
# Property-based test of the agent API against its OpenAPI document (schemathesis, PyPI): starts
# a real broker (`countersign serve`) on a temp data dir and a free port, adds an agent, and runs
# a bounded number of generated requests per operation (all 5, and stateful sequences along the
# document's links), checking that no answer is a 5xx and that every answer (errors included:
# `{code, message}`) matches the documented schema; prints per-operation figures at the end.
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
# The document is read from a file, not from its URL: given the URL, schemathesis leaves out the
# operation that serves the document (GET /v1/openapi.json), so 4 of the 5 operations were tested.
curl -fsS "$base/v1/openapi.json" -o "$dir/openapi.json" || { cat "$dir/serve.log" >&2; exit 1; }
# scripts/schemathesis.toml pins `wait` to 0. The stateful phase follows the document's links
# (201 of POST /v1/actions -> GET /v1/actions/{id} and .../decision with the returned id), so
# status and decision are asked about real drafts, not only about ids that never match.
# Checks: all but positive_data_acceptance. The document gives `payload` as any JSON: its shape
# depends on `kind` and on rules JSON Schema does not say (exactly one of argv/script, an
# http(s) URL, text limits), so a schema-valid draft may rightly be refused with 400
# {code, message}; response_schema_conformance still checks that 400 against ApiError.
cd "$dir" # schemathesis keeps a .schemathesis/ cache in the working directory
status=0
schemathesis --config-file "$root/scripts/schemathesis.toml" run "$dir/openapi.json" \
  --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks all --exclude-checks positive_data_acceptance \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${COUNTERSIGN_SCHEMATHESIS_EXAMPLES:-100}" \
  --request-timeout 20 \
  --generation-deterministic \
  --report har --report-har-path "$dir/requests.har" \
  --no-color "$@" || status=$?
# Per-operation figures from the recorded requests: how many, which statuses, and how many
# status/decision requests named a draft that a POST in this run created.
python3 "$root/scripts/schemathesis_coverage.py" "$dir/openapi.json" "$dir/requests.har"
exit "$status"
