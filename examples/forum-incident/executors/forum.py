#!/usr/bin/env python3
"""Demo executor for `message.post`: posts the APPROVED action (read from stdin, as
`countersign exec` hands it over) to a simulated forum, a JSON-lines file."""
import json
import os
import sys

action = json.load(sys.stdin)
if action.get("kind") != "message.post":
    sys.exit(f"forum executor: refusing kind {action.get('kind')!r}")
out = os.path.join(os.environ.get("DEMO_OUT", "."), "forum.jsonl")
with open(out, "a", encoding="utf-8") as f:
    f.write(json.dumps({"channel": action["payload"]["channel"], "body": action["payload"]["body"]}) + "\n")
print(f"posted to #{action['payload']['channel']} ({out})")
