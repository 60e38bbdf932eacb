#!/usr/bin/env bash
# The README's review-desk screenshots (docs/desk-*.png, 1280x800), taken from the real window
# under Xvfb by tests/e2e/screenshots.mjs: the queue, a detail view with a diff, the impact panel
# of the forum-incident access change. Needs what tests/e2e/run.sh needs, and the built app
# (bash scripts/build.sh). Each PNG is reduced to 256 colours when it is over 300 KB.
#
# Usage: bash scripts/screenshots.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="$PWD/docs"
SCREENSHOTS_OUT="$out" E2E_TESTS=./screenshots.mjs bash tests/e2e/run.sh
for f in "$out"/desk-queue.png "$out"/desk-diff.png "$out"/desk-impact.png; do
  [[ -f "$f" ]] || { echo "screenshots.sh: $f was not written" >&2; exit 1; }
  if (($(stat -c %s "$f") > 300 * 1024)); then
    convert "$f" -strip -colors 256 "PNG8:$f"
  fi
  echo "$f: $(identify -format '%wx%h' "$f"), $(($(stat -c %s "$f") / 1024)) KB"
done
