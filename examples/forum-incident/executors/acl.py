#!/usr/bin/env python3
"""Demo executor for `acl.change`: applies the APPROVED grants (stdin) to a simulated
warehouse ACL, one JSON file per resource."""
import json
import os
import sys

action = json.load(sys.stdin)
if action.get("kind") != "acl.change":
    sys.exit(f"acl executor: refusing kind {action.get('kind')!r}")
resource = action["payload"]["resource"]
root = os.path.join(os.environ.get("DEMO_OUT", "."), "acl")
os.makedirs(root, exist_ok=True)
path = os.path.join(root, resource.replace("/", "_") + ".json")
with open(path, "w", encoding="utf-8") as f:
    json.dump(action["payload"]["grants"], f, indent=2)
print(f"grants on {resource} set ({path})")
