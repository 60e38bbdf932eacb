#!/usr/bin/env bash
# Sets up what is missing and runs every test of Countersign (what CI runs via .ci/run):
#   formatting, lints, the UI's type check and unit tests, the Rust test suites (core, store,
#   broker over real HTTP, gate, CLI against a real broker; the store's shared suite and
#   `serve --database` on both SQLite and a throwaway PostgreSQL cluster, scripts/pg-test.sh), kill -9 at each step of a decision
#   (the crash-points feature), the approver key in gnome-keyring (headless), the Python verifier over the shared
#   decision vectors (tests/vectors), the Python SDK and the MCP gateway (official MCP SDK) against
#   a real broker, the SDK's types (mypy --strict), the drift check of the generated TypeScript bindings, the end-to-end tests
#   of the real window under Xvfb, schemathesis on the agent API (docs/openapi.json), the
#   headless demo, and a short run of the API benchmark.
# Ends with one line "tests: N passed, M failed" counting Rust, UI, Python and end-to-end tests.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh --test
. scripts/lib.sh
logs=$(mktemp -d)
step() { say "$1"; }

step "format: cargo fmt --check"
cargo fmt --all -- --check

step "UI: type check, unit tests, build"
(cd ui && npm run typecheck --silent && npx vitest run 2>&1 | tee "$logs/vitest.log" && npm run build --silent)

step "lint: cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "Rust tests (regenerates ui/src/bindings), PostgreSQL suites against a throwaway cluster"
# Under pg-test.sh every suite sees COUNTERSIGN_TEST_PG, so the PostgreSQL half of the store's
# shared suite and `serve --database` run (and count) with the rest; pg-test.sh fails when no
# cluster can be started, and with CI=true a suite that finds no server fails instead of skipping.
INSTA_UPDATE=no bash scripts/pg-test.sh cargo test --workspace 2>&1 | tee "$logs/cargo.log"

step "crash safety: kill -9 at each step of a decision and of the gate (crash-points feature)"
cargo clippy -p countersign-cli --features crash-points --all-targets --quiet -- -D warnings
cargo test -p countersign-cli --features crash-points --test crash 2>&1 | tee -a "$logs/cargo.log"

step "the approver key in a real keychain (gnome-keyring under dbus-run-session)"
bash scripts/keychain-test.sh 2>&1 | tee -a "$logs/cargo.log"

step "Python: the verifier on the shared decision vectors, the SDK and the MCP gateway against a real broker (pytest)"
# The working copy's package is tested (PYTHONPATH), not whatever version pip installed.
PYTHONPATH="$root/clients/python/src" PYTHONDONTWRITEBYTECODE=1 \
  python3 -m pytest -q -p no:cacheprovider clients/python 2>&1 | tee "$logs/pytest.log"

step "Python: the SDK's types (mypy --strict, clients/python/pyproject.toml), and as installed by pip in a clean venv (py.typed)"
(cd clients/python && python3 -m mypy)
python3 -m venv "$logs/venv"
"$logs/venv/bin/pip" install -q --disable-pip-version-check ./clients/python
python3 -m mypy --strict --python-executable "$logs/venv/bin/python" clients/python/tests/typed_consumer.py

step "generated TypeScript bindings match the Rust types"
if [ -n "$(git status --porcelain -- ui/src/bindings)" ]; then
  git status --short -- ui/src/bindings
  git --no-pager diff --stat -- ui/src/bindings
  echo "test.sh: ui/src/bindings drifted from the Rust types: run cargo test and commit the result" >&2
  exit 1
fi

step "build the app and the CLI"
bash scripts/build.sh

step "the agent API against its OpenAPI document (schemathesis: no 5xx, every answer as documented)"
bash scripts/schemathesis.sh 2>&1 | tail -n 20

step "end-to-end tests in the real window"
bash tests/e2e/run.sh 2>&1 | tee "$logs/e2e.log"

step "headless demo: the forum incident waits for a human"
demo_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
COUNTERSIGN_DEMO_OUT="$logs/demo" COUNTERSIGN_LISTEN="127.0.0.1:$demo_port" bash scripts/demo.sh --headless 2>&1 | grep -v "^dbus-daemon" | tail -n 14

step "benchmark (short run)"
COUNTERSIGN_BENCH_SUBMISSIONS=50 COUNTERSIGN_BENCH_DECISIONS=20 cargo bench --quiet -p countersign-broker --bench api

count() { # sums the first number of each match of regex $1 in file $2
  sed 's/\x1b\[[0-9;]*m//g' "$2" | grep -Eo "$1" | grep -Eo '[0-9]+' | head -n 1000 | awk '{s+=$1} END {print s+0}'
}
rust_pass=$(count 'test result: [a-zA-Z]+\. [0-9]+ passed' "$logs/cargo.log")
rust_fail=$(count '[0-9]+ failed;' "$logs/cargo.log")
ui_pass=$(count 'Tests +[0-9]+ passed' "$logs/vitest.log")
e2e_pass=$(count '^# pass [0-9]+' "$logs/e2e.log")
e2e_fail=$(count '^# fail [0-9]+' "$logs/e2e.log")
py_pass=$(count '[0-9]+ passed' "$logs/pytest.log")
py_fail=$(count '[0-9]+ failed' "$logs/pytest.log" || true) # pytest prints no "0 failed"
echo "rust ${rust_pass}, ui ${ui_pass}, python ${py_pass}, end-to-end ${e2e_pass}"
echo "tests: $((rust_pass + ui_pass + py_pass + e2e_pass)) passed, $((rust_fail + py_fail + e2e_fail)) failed"
