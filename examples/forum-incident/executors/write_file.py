#!/usr/bin/env python3
"""Demo executor for `file.write`: writes the APPROVED content (stdin) to the approved path,
but only below the directory given as the first argument (least privilege), atomically."""
import json
import os
import sys
import tempfile

root = os.path.realpath(sys.argv[1])
action = json.load(sys.stdin)
if action.get("kind") != "file.write":
    sys.exit(f"file executor: refusing kind {action.get('kind')!r}")
path = os.path.realpath(action["payload"]["path"])
if os.path.commonpath([root, path]) != root:
    sys.exit(f"file executor: {path} is outside {root}; refusing")
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
with os.fdopen(fd, "w", encoding="utf-8") as f:
    f.write(action["payload"]["content"])
os.replace(tmp, path)
print(f"wrote {path}")
