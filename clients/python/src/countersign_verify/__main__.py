"""``countersign-verify --envelope FILE --trust FILE --agent NAME --action-id ID [--now SECONDS]
[--approvals N] [--lead]``:
exit 0 and print the approved action's canonical JSON when the decision may run, exit 4 with the
reason when it is refused, 3 for a genuine rejection."""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional

import rfc8785

from . import Quorum, TrustedKeys, VerificationError, verify_decision


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="countersign-verify", description=__doc__)
    parser.add_argument("--envelope", required=True, help="the DSSE envelope (JSON file)")
    parser.add_argument("--trust", required=True, help="pinned keys (countersign key export-public)")
    parser.add_argument("--agent", required=True, help="the agent this gate acts for")
    parser.add_argument("--action-id", required=True, help="the draft id the broker gave")
    parser.add_argument("--now", type=int, default=None, help="Unix seconds (default: now)")
    parser.add_argument("--approvals", type=int, default=1, help="distinct approvers required")
    parser.add_argument("--lead", action="store_true", help="one of them must be pinned as lead")
    args = parser.parse_args(argv)
    try:
        with open(args.trust, "rb") as f:
            trusted = TrustedKeys.from_json(f.read())
        with open(args.envelope, "rb") as f:
            body = verify_decision(
                f.read(),
                trusted,
                action_id=args.action_id,
                agent=args.agent,
                now=int(time.time()) if args.now is None else args.now,
                quorum=Quorum(args.approvals, args.lead),
            )
    except VerificationError as e:
        print(f"countersign-verify: {e.code}: {e}", file=sys.stderr)
        return 3 if e.code == "rejected" else 4
    sys.stdout.write(rfc8785.dumps(body["action"]).decode("utf-8") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
