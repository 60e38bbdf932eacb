"""Per-operation figures of a schemathesis run (scripts/schemathesis.sh), from its HAR report.

Usage: python3 scripts/schemathesis_coverage.py OPENAPI_JSON REQUESTS_HAR

Prints one line per operation of the document: requests sent, statuses answered, and for the
operations with an `{id}` how many requests named a draft that a 201 of this run created (the
stateful phase following the document's links). Also checks, independently of schemathesis,
that no answer is a 5xx and that every 4xx answer (including undocumented ones such as 405) is
exactly `{code, message}`. Exits 1 when an operation got no request or a check fails.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from urllib.parse import urlsplit


def operations(doc: dict[str, object]) -> list[tuple[str, str, re.Pattern[str]]]:
    """(METHOD, path template, regex matching concrete paths) for each documented operation."""
    ops = []
    paths = doc["paths"]
    assert isinstance(paths, dict)
    for template, item in paths.items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "$")
        for method in item:
            ops.append((method.upper(), template, pattern))
    return ops


def main(doc_path: str, har_path: str) -> int:
    with open(doc_path, encoding="utf-8") as f:
        doc = json.load(f)
    with open(har_path, encoding="utf-8") as f:
        entries = json.load(f)["log"]["entries"]
    ops = operations(doc)
    sent: Counter[tuple[str, str]] = Counter()
    statuses: dict[tuple[str, str], Counter[int]] = {(m, t): Counter() for m, t, _ in ops}
    real: Counter[tuple[str, str]] = Counter()
    created: set[str] = set()
    problems: list[str] = []
    other = 0
    for entry in entries:
        method = entry["request"]["method"]
        path = urlsplit(entry["request"]["url"]).path
        status = entry["response"]["status"]
        text = entry["response"].get("content", {}).get("text") or ""
        if status >= 500:
            problems.append(f"{method} {path}: {status} {text[:200]}")
        elif status >= 400:
            try:
                body = json.loads(text)
            except ValueError:
                body = None
            if not (
                isinstance(body, dict)
                and set(body) == {"code", "message"}
                and all(isinstance(v, str) for v in body.values())
            ):
                problems.append(f"{method} {path}: {status} is not {{code, message}}: {text[:200]}")
        match = next(((m, t, p.match(path)) for m, t, p in ops if m == method and p.match(path)), None)
        if match is None:
            other += 1  # schemathesis's probes: undocumented methods (405) and the like
            continue
        key = (match[0], match[1])
        sent[key] += 1
        statuses[key][status] += 1
        groups = match[2].groups() if match[2] else ()
        if groups and groups[0] in created:
            real[key] += 1
        if method == "POST" and status == 201:
            try:
                created.add(json.loads(text)["id"])
            except (ValueError, KeyError, TypeError):
                problems.append(f"{method} {path}: 201 without an id: {text[:200]}")
    print("schemathesis coverage (requests per operation, statuses answered):")
    for method, template, _ in ops:
        key = (method, template)
        figures = ", ".join(f"{s}: {n}" for s, n in sorted(statuses[key].items()))
        extra = f"; {real[key]} on drafts created in this run" if "{" in template else ""
        print(f"  {method} {template}: {sent[key]} requests ({figures}){extra}")
        if sent[key] == 0:
            problems.append(f"{method} {template}: no request was sent")
    print(f"  other requests (undocumented methods and paths): {other}")
    print(f"  drafts created (201): {len(created)}")
    for problem in problems:
        print(f"schemathesis_coverage: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
