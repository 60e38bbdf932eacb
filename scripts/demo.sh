#!/usr/bin/env bash
# The forum-incident demo: sets up and builds everything, starts the Countersign app, registers
# an agent, and runs examples/forum-incident/agent.sh, whose four drafts wait in the app for a
# human decision. Nothing is posted, granted or written until you approve it in the window.
#
#   scripts/demo.sh              with a display: review the drafts in the window
#   scripts/demo.sh --headless   no display needed: runs under Xvfb, saves a screenshot to
#                                demo-output/screenshot.png, shows that nothing ran, and stops
# Without a display, --headless is implied. State goes to demo-output/ (deleted on each run;
# COUNTERSIGN_DEMO_OUT overrides it, COUNTERSIGN_LISTEN the API address).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/lib.sh

mode=window
[ "${1:-}" = "--headless" ] || [ -z "${DISPLAY:-}" ] && mode=headless
if [ "${1:-}" != "--inside" ] && [ "${2:-}" != "--inside" ]; then
  bash scripts/setup.sh
  . scripts/lib.sh
  bash scripts/build.sh
  if [ $mode = headless ]; then
    say "no display: running the app under Xvfb"
    exec xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash "$0" --headless --inside
  fi
  exec bash "$0" --window --inside
fi

out=${COUNTERSIGN_DEMO_OUT:-$root/demo-output}
rm -rf "$out"
mkdir -p "$out"
export COUNTERSIGN_DATA_DIR=$out/data
export COUNTERSIGN_KEY_STORE=${COUNTERSIGN_KEY_STORE:-file}
export COUNTERSIGN_KEY_PASSPHRASE=${COUNTERSIGN_KEY_PASSPHRASE:-countersign demo passphrase}
export COUNTERSIGN_LISTEN=${COUNTERSIGN_LISTEN:-127.0.0.1:7823}
export COUNTERSIGN_API=http://$COUNTERSIGN_LISTEN
export COUNTERSIGN_APPROVER=${COUNTERSIGN_APPROVER:-$(id -un)}

cs=$root/target/debug/countersign
app=$root/target/debug/countersign-app
pids=()
# Each child runs in its own process group (setsid), so stopping it stops what it started.
cleanup() { for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

if [ $mode = headless ]; then
  setsid dunst >/dev/null 2>&1 & pids+=($!)
fi

say "registering agent forum-bot and the approver key (data in $COUNTERSIGN_DATA_DIR)"
COUNTERSIGN_TOKEN=$("$cs" agent add forum-bot --token-only)
export COUNTERSIGN_TOKEN
"$cs" key export-public > "$out/approver.pub.json"
export COUNTERSIGN_TRUST=$out/approver.pub.json

say "starting the app (log: demo-output/app.log)"
COUNTERSIGN_LOG=${COUNTERSIGN_LOG:-info} setsid "$app" >"$out/app.log" 2>&1 & app_pid=$!; pids+=($app_pid)
for _ in $(seq 1 60); do
  curl -fsS "$COUNTERSIGN_API/v1/health" >/dev/null 2>&1 && break
  kill -0 $app_pid 2>/dev/null || { cat "$out/app.log" >&2; echo "demo: the app exited" >&2; exit 1; }
  sleep 0.5
done

config=$root/examples/forum-incident/config/exporter.toml
config_before=$(sha256sum "$config")
say "running the forum-incident agent"
COUNTERSIGN_BIN=$cs DEMO_OUT=$out/agent setsid bash examples/forum-incident/agent.sh & agent_pid=$!; pids+=($agent_pid)

pending=0
for _ in $(seq 1 60); do
  pending=$("$cs" queue --pending | wc -l)
  [ "$pending" -ge 4 ] && break
  kill -0 $agent_pid 2>/dev/null || break
  sleep 0.5
done
if [ "$pending" -lt 4 ]; then
  echo "demo: expected 4 pending drafts, found $pending; agent logs:" >&2
  tail -n +1 "$out"/agent/*.log >&2 || true
  exit 1
fi
echo
echo "Pending drafts (score, level, agent, kind, summary):"
"$cs" queue --pending | cut -c39-
echo

if [ $mode = headless ]; then
  sleep 3 # let the window render the pushed queue
  import -window root "$out/screenshot.png"
  ran=0
  [ -e "$out/agent/forum.jsonl" ] && ran=1
  ls "$out/agent/acl/"*.json >/dev/null 2>&1 && ran=1
  [ "$(sha256sum "$config")" = "$config_before" ] || ran=1
  if [ $ran = 1 ]; then echo "demo: something ran without approval!" >&2; exit 1; fi
  echo "Nothing was posted, granted or written: every draft is waiting for a human."
  echo "Screenshot of the review window: $out/screenshot.png"
  echo "Notifications raised: $(grep -c 'desktop notification shown' "$out/app.log" || true)"
  echo "Run scripts/demo.sh on a machine with a display to approve or reject them yourself."
  exit 0
fi

echo "Review the drafts in the Countersign window: approve the harmless ones, reject the advice."
wait $agent_pid || true
echo "The agent is done; results are above. Close the window to end the demo."
wait $app_pid || true
