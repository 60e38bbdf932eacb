#!/usr/bin/env bash
# Fuzzes the parsers and the verifier that see untrusted bytes (fuzz/, cargo-fuzz + libFuzzer)
# for a bounded time each, then prints executions per second and any crash. A bench-style
# script: run it by hand, not in CI.
#   scripts/fuzz.sh [SECONDS] [TARGET...]      default: 60 s, every target
# Targets: action_parser (strict JSON + Draft parsing, digest round trip, review, risk score),
#          envelope_verifier (DSSE envelope parsing and decision verification).
# Seeds come from tests/vectors/decisions.json (its envelopes, payloads and actions); the
# corpus grows in fuzz/corpus/<target>, crashes land in fuzz/artifacts/<target>/ (both ignored
# by git). Reproduce a crash: cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-…
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`, from crates.io) and a nightly
# toolchain for AddressSanitizer. Without nightly, COUNTERSIGN_FUZZ_STABLE=1 runs on stable
# with RUSTC_BOOTSTRAP=1 (cargo-fuzz passes -Z flags) and --sanitizer none: libFuzzer still
# finds panics, overflows (debug assertions) and hangs; safe Rust (this workspace forbids
# unsafe) needs no ASan for memory errors of its own.
# Exit status: 0 when no target crashed, 1 otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(action_parser envelope_verifier)

command -v cargo-fuzz >/dev/null 2>&1 || [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo-fuzz" ] || {
  echo "fuzz: cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2; exit 2; }
if [ "${COUNTERSIGN_FUZZ_STABLE:-0}" = 1 ]; then
  fuzz=(env RUSTC_BOOTSTRAP=1 cargo fuzz)
  run_flags=(--sanitizer none)
elif rustup run nightly rustc --version >/dev/null 2>&1; then
  fuzz=(cargo +nightly fuzz)
  run_flags=()
else
  echo "fuzz: no nightly toolchain (rustup toolchain install nightly), or set COUNTERSIGN_FUZZ_STABLE=1" >&2
  exit 2
fi

# Seed corpora from the shared vectors (only files that are not there yet).
python3 - <<'PY'
import base64, hashlib, json, os
vectors = json.load(open("tests/vectors/decisions.json"))["vectors"]
def put(target, data):
    d = os.path.join("fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "seed-" + hashlib.sha256(data).hexdigest()[:16])
    if not os.path.exists(p):
        open(p, "wb").write(data)
for v in vectors:
    text = v["envelope"]  # the envelope's exact JSON text
    put("envelope_verifier", b"\x00" + text.encode())
    try:
        env = json.loads(text)
    except ValueError:
        continue
    payload = env.get("payload") if isinstance(env, dict) else None
    if isinstance(payload, str):
        try:
            raw = base64.b64decode(payload, validate=False)
        except Exception:
            continue
        put("envelope_verifier", b"\x01" + raw)
        try:
            action = json.loads(raw).get("action")
        except Exception:
            action = None
        if isinstance(action, dict):
            put("action_parser", json.dumps(action).encode())
PY

status=0
summary=()
for t in "${targets[@]}"; do
  log="fuzz/$t.log"
  mkdir -p "fuzz/artifacts/$t"
  printf '\033[1m==> fuzzing %s for %s s\033[0m\n' "$t" "$seconds" >&2
  set +e
  (cd fuzz && "${fuzz[@]}" run "${run_flags[@]}" "$t" -- \
      -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048) >"$log" 2>&1
  code=$?
  set -e
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1)
  took=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | grep -Eo 'in [0-9]+' | grep -Eo '[0-9]+' | tail -n 1)
  rate=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | grep -Eo '[0-9]+')
  crashes=$(find "fuzz/artifacts/$t" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) | wc -l)
  line="$t: ${runs:-?} executions in ${took:-$seconds} s, ${rate:-?} exec/s, coverage ${cov:-?} edges, exit $code, ${crashes} crash/oom/timeout file(s) in fuzz/artifacts/$t (log: $log)"
  summary+=("$line")
  if [ "$code" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    status=1
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY' "$log" | head -n 5 >&2 || true
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
