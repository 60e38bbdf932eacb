#!/usr/bin/env bash
# The README's review-desk screenshots (docs/desk-*.png, 1280x800), taken from the real window
# under Xvfb by tests/e2e/screenshots.mjs: the queue, a detail view with a diff, the impact panel
# of the forum-incident access change. Needs what tests/e2e/run.sh needs, and the built app
# (bash scripts/build.sh). Each PNG is reduced to 256 colours when it is over 300 KB.
#
# Usage: bash scripts/screenshots.sh [light|dark] [OUT_DIR]   (default: light docs)
#   dark: the system asks for a dark theme (GTK_THEME=Adwaita:dark, which WebKitGTK reports as
#   prefers-color-scheme: dark), to look at the dark theme; its PNGs go to OUT_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
theme="${1:-light}"
out="$(mkdir -p "${2:-docs}" && cd "${2:-docs}" && pwd)"
case "$theme" in
  light) unset GTK_THEME ;;
  dark) export GTK_THEME=Adwaita:dark ;;
  *) echo "screenshots.sh: theme must be light or dark, not '$theme'" >&2; exit 2 ;;
esac
rm -f "$out"/desk-queue.png "$out"/desk-diff.png "$out"/desk-impact.png
SCREENSHOTS_OUT="$out" E2E_TESTS=./screenshots.mjs bash tests/e2e/run.sh
for f in "$out"/desk-queue.png "$out"/desk-diff.png "$out"/desk-impact.png; do
  [[ -f "$f" ]] || { echo "screenshots.sh: $f was not written" >&2; exit 1; }
  if (($(stat -c %s "$f") > 300 * 1024)); then
    convert "$f" -strip -colors 256 "PNG8:$f"
  fi
  echo "$f: $(identify -format '%wx%h' "$f"), $(($(stat -c %s "$f") / 1024)) KB"
done
