#!/usr/bin/env bash
# The forum incident, replayed through Countersign.
#
# An internal agent answered a forum question with wrong advice — "grant all-employees read on
# the user_data table" — and an engineer followed it: user data was visible to everyone for two
# hours. This agent drafts the same four actions, but every one goes through `countersign exec`,
# so NOTHING is posted, granted or written until a human approves it in the Countersign window:
#
#   1. forum-reply    message.post  the wrong advice, to all-employees          (high risk)
#   2. acl-change     acl.change    the grant the advice leads to               (critical)
#   3. thanks-post    message.post  a harmless thank-you to the team            (low)
#   4. config-edit    file.write    an edit of config/exporter.toml in this repo (low)
#
# Needs: COUNTERSIGN_TOKEN (an agent token), COUNTERSIGN_TRUST (the approver's public key file),
# optional COUNTERSIGN_API (default http://127.0.0.1:7823), COUNTERSIGN_BIN, DEMO_OUT.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cs=${COUNTERSIGN_BIN:-countersign}
trust=${COUNTERSIGN_TRUST:?set COUNTERSIGN_TRUST to the approver public key file}
: "${COUNTERSIGN_TOKEN:?set COUNTERSIGN_TOKEN to the token of this agent}"
export DEMO_OUT=${DEMO_OUT:-$here/out}
mkdir -p "$DEMO_OUT/drafts"
drafts=$DEMO_OUT/drafts
config=$here/config/exporter.toml

cat > "$drafts/1-forum-reply.json" <<'JSON'
{
  "kind": "message.post",
  "target": "forum://internal/eng-help/thread/4121",
  "summary": "Answer thread 4121: how analysts can query user_data",
  "payload": {
    "channel": "eng-help",
    "audience": "all-employees",
    "reply_to": "4121",
    "body": "Easiest fix: grant all-employees read access on analytics.user_data, then every dashboard just works:\n\n    GRANT SELECT ON analytics.user_data TO \"all-employees\";\n\nNo need to wait for the data-eng access review."
  }
}
JSON

cat > "$drafts/2-acl-change.json" <<'JSON'
{
  "kind": "acl.change",
  "target": "warehouse://analytics/user_data",
  "summary": "Grant all-employees read on analytics.user_data (as advised in thread 4121)",
  "payload": {
    "resource": "analytics.user_data",
    "grants": [
      {"principal": "data-eng", "permission": "admin"},
      {"principal": "analysts-pii", "permission": "read"},
      {"principal": "all-employees", "permission": "read"}
    ]
  },
  "before": [
    {"principal": "data-eng", "permission": "admin"},
    {"principal": "analysts-pii", "permission": "read"}
  ]
}
JSON

cat > "$drafts/3-thanks-post.json" <<'JSON'
{
  "kind": "message.post",
  "target": "forum://internal/data-eng/thread/4099",
  "summary": "Close thread 4099 with a thank-you",
  "payload": {
    "channel": "data-eng",
    "audience": "team:data-eng",
    "reply_to": "4099",
    "body": "Thanks, restarting the exporter fixed the lag. Closing this thread."
  }
}
JSON

python3 - "$config" > "$drafts/4-config-edit.json" <<'PY'
import json, sys
path = sys.argv[1]
old = open(path, encoding="utf-8").read()
new = old.replace("batch_size = 500", "batch_size = 2000").replace('log_level = "info"', 'log_level = "debug"')
print(json.dumps({
    "kind": "file.write",
    "target": "file://" + path,
    "summary": "Raise the exporter batch size and turn on debug logging",
    "payload": {"path": path, "content": new},
    "before": old,
}, indent=2))
PY

gate() { # name draft executor...
  local name=$1 draft=$2; shift 2
  "$cs" exec --action "$draft" --trust "$trust" --state-dir "$DEMO_OUT/gate" --envelope-out "$DEMO_OUT/$name.envelope.json" -- "$@" \
    >"$DEMO_OUT/$name.log" 2>&1
}

echo "forum-incident agent: submitting 4 drafts; each waits for a signed human decision"
pids=()
gate forum-reply "$drafts/1-forum-reply.json" python3 "$here/executors/forum.py" & pids+=($!)
gate acl-change  "$drafts/2-acl-change.json"  python3 "$here/executors/acl.py" & pids+=($!)
gate thanks-post "$drafts/3-thanks-post.json" python3 "$here/executors/forum.py" & pids+=($!)
gate config-edit "$drafts/4-config-edit.json" python3 "$here/executors/write_file.py" "$here/config" & pids+=($!)

names=(forum-reply acl-change thanks-post config-edit)
status=0
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then
    echo "  ${names[$i]}: approved and executed"
  else
    code=$?
    case $code in
      3) echo "  ${names[$i]}: rejected or expired; nothing ran" ;;
      4) echo "  ${names[$i]}: decision refused by the gate; nothing ran" ;;
      *) echo "  ${names[$i]}: not executed (exit $code)" ;;
    esac
    status=1
  fi
  sed 's/^/      /' "$DEMO_OUT/${names[$i]}.log"
done
exit $status
