#!/usr/bin/env bash
# End-to-end tests of the real Countersign window.
#
# Usage (from anywhere; binaries must already be built):
#   tests/e2e/run.sh
#
# Environment (all optional):
#   COUNTERSIGN_APP_BIN   app binary      (default: <repo>/target/debug/countersign-app)
#   COUNTERSIGN_CLI_BIN   CLI binary      (default: <repo>/target/debug/countersign)
#   TAURI_DRIVER          tauri-driver    (default: from PATH, else ~/.cargo/bin/tauri-driver)
#   WEBKIT_WEBDRIVER      native driver   (default: from PATH, else /usr/bin/WebKitWebDriver)
#   E2E_API_PORT          agent API port  (default: a free port; a given port must be free)
#   E2E_DRIVER_PORT       tauri-driver    (default: a free port; a given port must be free)
#   E2E_TIMEOUT           hard limit on the whole run, seconds (default: 600)
#   E2E_KEEP_WORK=1       keep the temporary work dir (it is copied to artifacts anyway)
#   E2E_TESTS             test files to run, relative to tests/e2e (default: ./*.test.mjs)
#
# It starts ONE `xvfb-run … dbus-run-session` holding: dunst (notification server), dbus-monitor
# recording Notify calls, and tauri-driver (which spawns WebKitWebDriver, which spawns the app).
# `npm test` then drives the window. Logs and screenshots land in <repo>/.e2e-artifacts/<run>/
# (<repo>/.e2e-artifacts/latest is the newest run).
# Every process started here carries COUNTERSIGN_E2E_RUN=<id> in its environment; at the end the
# ones still alive are killed by pid (and only those).
#
# Exit status: the tests' status (0 = all passed); 124 when E2E_TIMEOUT was hit; 2 on setup errors.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Kills every process whose environment carries COUNTERSIGN_E2E_RUN=$1 (and, when given, the
# exact line $2 too), except this shell and its ancestors. TERM first, KILL after a grace period.
reap() {
  local marker="COUNTERSIGN_E2E_RUN=$1" also="${2:-}" pids=() pid env keep=" " p
  p=$BASHPID
  while [[ -n "$p" && "$p" != 0 ]]; do
    keep+="$p "
    p="$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null || true)"
  done
  for env in /proc/[0-9]*/environ; do
    pid="${env#/proc/}"; pid="${pid%/environ}"
    [[ "$keep" == *" $pid "* ]] && continue
    local lines
    lines="$(tr '\0' '\n' 2>/dev/null <"$env")" || continue
    grep -qxF "$marker" <<<"$lines" || continue
    if [[ -n "$also" ]]; then grep -qxF "$also" <<<"$lines" || continue; fi
    pids+=("$pid")
  done
  ((${#pids[@]})) || return 0
  log "stopping leftover processes: $(for q in "${pids[@]}"; do printf '%s(%s) ' "$q" "$(cat "/proc/$q/comm" 2>/dev/null)"; done)"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  local alive=()
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    ((${#alive[@]})) || return 0
    sleep 0.5
  done
  kill -KILL "${alive[@]}" 2>/dev/null || true
}

port_free() {
  node -e 'const s=require("net").createServer();s.once("error",()=>process.exit(1));s.listen(+process.argv[1],"127.0.0.1",()=>s.close(()=>process.exit(0)))' "$1"
}
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_for() { # seconds description command...
  local secs="$1" what="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then log "timed out after ${secs}s waiting for $what"; return 1; fi
    sleep 0.2
  done
}

# --------------------------------------------------------------------------------------------
# Inside the X server and the D-Bus session.
if [[ "${1:-}" == "--inside" ]]; then
  : "${E2E_WORK:?}" "${E2E_ARTIFACTS:?}" "${E2E_DRIVER_PORT:?}"
  pids=()
  finish() {
    local status=$?
    set +e
    # A picture of the whole screen, whatever happened.
    import -window root "$E2E_ARTIFACTS/screen-final.png" 2>>"$E2E_ARTIFACTS/import.log"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    sleep 1
    # Only what runs in this session (not Xvfb or the bus itself: their owners stop them).
    reap "$COUNTERSIGN_E2E_RUN" "DBUS_SESSION_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS"
    exit "$status"
  }
  trap finish EXIT
  trap 'exit 130' INT TERM

  log "display $DISPLAY, session bus ${DBUS_SESSION_BUS_ADDRESS%%,*}"

  # Notification server. -config /dev/null: defaults only, no user config.
  dunst -config /dev/null >"$E2E_WORK/dunst.log" 2>&1 &
  pids+=($!)
  wait_for 15 "dunst on the session bus" \
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.GetNameOwner string:org.freedesktop.Notifications

  # Record every Notify call. The monitor prints NameAcquired once it is attached.
  dbus-monitor --session "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" \
    >"$E2E_DBUS_LOG" 2>&1 &
  pids+=($!)
  wait_for 10 "dbus-monitor" grep -q NameAcquired "$E2E_DBUS_LOG" || sleep 1

  # tauri-driver (spawns WebKitWebDriver, which spawns the app with this environment, so the
  # app's stderr — its tracing log — ends up in the same log file).
  "$TAURI_DRIVER" --port "$E2E_DRIVER_PORT" --native-port "$E2E_NATIVE_PORT" \
    --native-driver "$WEBKIT_WEBDRIVER" >"$E2E_DRIVER_LOG" 2>&1 &
  pids+=($!)
  wait_for 20 "tauri-driver on port $E2E_DRIVER_PORT" \
    node -e 'require("net").connect(+process.argv[1],"127.0.0.1").on("connect",()=>process.exit(0)).on("error",()=>process.exit(1))' "$E2E_DRIVER_PORT"

  log "running the tests"
  set +e
  (cd "$HERE" && npm test)
  status=$?
  set -e
  # The TAP totals (`# pass N`, `# fail N` …), which scripts/test.sh counts.
  grep -E '^# (tests|suites|pass|fail|cancelled|skipped|todo) [0-9]+' "$E2E_ARTIFACTS/results.tap" || true
  log "tests finished with status $status"
  exit "$status"
fi

# --------------------------------------------------------------------------------------------
# Outside: check prerequisites, prepare, and start the session.
APP_BIN="${COUNTERSIGN_APP_BIN:-$REPO/target/debug/countersign-app}"
CLI_BIN="${COUNTERSIGN_CLI_BIN:-$REPO/target/debug/countersign}"
TAURI_DRIVER="${TAURI_DRIVER:-$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")}"
WEBKIT_WEBDRIVER="${WEBKIT_WEBDRIVER:-$(command -v WebKitWebDriver || echo /usr/bin/WebKitWebDriver)}"

missing=0
for f in "$APP_BIN" "$CLI_BIN" "$TAURI_DRIVER" "$WEBKIT_WEBDRIVER"; do
  if [[ ! -x "$f" ]]; then log "missing executable: $f"; missing=1; fi
done
for cmd in xvfb-run dbus-run-session dunst dbus-monitor dbus-send import node npm; do
  if ! command -v "$cmd" >/dev/null; then log "missing command: $cmd"; missing=1; fi
done
if ((missing)); then
  log "build with: (cd ui && npm ci && npm run build) && cargo build -p countersign-app -p countersign-cli"
  log "system packages: xvfb xauth imagemagick webkit2gtk-driver dbus dbus-x11 dunst; cargo install tauri-driver --locked"
  exit 2
fi
APP_BIN="$(realpath "$APP_BIN")"
CLI_BIN="$(realpath "$CLI_BIN")"

if [[ ! -d "$HERE/node_modules/webdriverio" ]]; then
  log "installing test dependencies (npm ci)"
  (cd "$HERE" && npm ci --no-audit --no-fund)
fi

RUN_ID="$(date +%Y%m%d%H%M%S)-$$"
# One directory per run (runs may overlap), `latest` pointing at this one; the 5 newest are kept.
ARTIFACTS_ROOT="$REPO/.e2e-artifacts"
ARTIFACTS="$ARTIFACTS_ROOT/$RUN_ID"
mkdir -p "$ARTIFACTS_ROOT"
{ ls -1d "$ARTIFACTS_ROOT"/20*/ 2>/dev/null || true; } | sort | head -n -4 | xargs -r rm -rf
mkdir -p "$ARTIFACTS"
ln -sfn "$RUN_ID" "$ARTIFACTS_ROOT/latest"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/countersign-e2e.XXXXXX")"

cleanup() {
  local status=$?
  set +e
  reap "$RUN_ID"
  for f in dunst.log dbus-notify.log tauri-driver.log; do
    [[ -f "$WORK/$f" ]] && cp "$WORK/$f" "$ARTIFACTS/"
  done
  if [[ "${E2E_KEEP_WORK:-0}" == 1 ]]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  log "artifacts in $ARTIFACTS"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/xdg-runtime" "$WORK/xdg-data" "$WORK/xdg-cache" "$WORK/xdg-config"
chmod 700 "$WORK/xdg-runtime"

# Ports: the ones asked for, else free ones from the kernel (runs may overlap; the app binds its
# port only once it has started, so a fixed default could be picked by two runs at once).
need_port() { # variable-name value
  if ! port_free "$2"; then log "$1=$2 is already in use"; exit 2; fi
  echo "$2"
}
if [[ -n "${E2E_API_PORT:-}" ]]; then API_PORT="$(need_port E2E_API_PORT "$E2E_API_PORT")"; else API_PORT="$(free_port)"; fi
if [[ -n "${E2E_DRIVER_PORT:-}" ]]; then DRIVER_PORT="$(need_port E2E_DRIVER_PORT "$E2E_DRIVER_PORT")"; else DRIVER_PORT="$(free_port)"; fi
while [[ "$DRIVER_PORT" == "$API_PORT" ]]; do DRIVER_PORT="$(free_port)"; done
NATIVE_PORT="$(free_port)"
while [[ "$NATIVE_PORT" == "$DRIVER_PORT" || "$NATIVE_PORT" == "$API_PORT" ]]; do NATIVE_PORT="$(free_port)"; done

export COUNTERSIGN_E2E_RUN="$RUN_ID"
export E2E_WORK="$WORK" E2E_ARTIFACTS="$ARTIFACTS"
export E2E_DRIVER_PORT="$DRIVER_PORT" E2E_NATIVE_PORT="$NATIVE_PORT" E2E_API_PORT="$API_PORT"
export E2E_DBUS_LOG="$WORK/dbus-notify.log" E2E_DRIVER_LOG="$WORK/tauri-driver.log"
export E2E_APP_LOG="$E2E_DRIVER_LOG" # the app's stderr is inherited through the drivers
export COUNTERSIGN_APP_BIN="$APP_BIN" COUNTERSIGN_CLI_BIN="$CLI_BIN"
export TAURI_DRIVER WEBKIT_WEBDRIVER
# The app and the CLI read their configuration from these (the app inherits them from
# tauri-driver → WebKitWebDriver).
export COUNTERSIGN_DATA_DIR="$WORK/data"
export COUNTERSIGN_LISTEN="127.0.0.1:$API_PORT"
export COUNTERSIGN_KEY_STORE=file
export COUNTERSIGN_KEY_PASSPHRASE="e2e-passphrase-$RUN_ID"
export COUNTERSIGN_APPROVER="e2e-approver"
export COUNTERSIGN_LOG=info
# Keep the session away from the user's own files and from other runs.
export XDG_RUNTIME_DIR="$WORK/xdg-runtime" XDG_DATA_HOME="$WORK/xdg-data"
export XDG_CACHE_HOME="$WORK/xdg-cache" XDG_CONFIG_HOME="$WORK/xdg-config"
unset DBUS_SESSION_BUS_ADDRESS WAYLAND_DISPLAY DISPLAY
# Note: do NOT set WEBKIT_DISABLE_DMABUF_RENDERER or WEBKIT_DISABLE_COMPOSITING_MODE here: with
# either one (WebKitGTK 2.50 under Xvfb) WebDriver screenshots hang forever.
unset WEBKIT_DISABLE_DMABUF_RENDERER WEBKIT_DISABLE_COMPOSITING_MODE
export NO_COLOR=1
export NO_AT_BRIDGE=1


log "run $RUN_ID: app $APP_BIN, API port $API_PORT, tauri-driver port $DRIVER_PORT (native $NATIVE_PORT)"
started=$SECONDS
set +e
timeout --kill-after=15 "${E2E_TIMEOUT:-600}" \
  xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" \
  dbus-run-session -- bash "$HERE/run.sh" --inside </dev/null
status=$?
set -e
log "finished in $((SECONDS - started))s with status $status"
exit "$status"
