#!/usr/bin/env bash
# Review-desk figures: submission → notification (broker side, over real HTTP, from the agent
# API benchmark), the time to render the queue with 10,000 drafts (the virtualised list in jsdom,
# through the whole App against a fake shell) and to show a 5 MiB diff (first 2,000 lines).
#
# Usage: bash scripts/bench-desk.sh   (COUNTERSIGN_BENCH_SUBMISSIONS / _DECISIONS scale part 1)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
printf '\033[1m==> agent API, decision delivery, submission → notification\033[0m\n' >&2
COUNTERSIGN_BENCH_SUBMISSIONS="${COUNTERSIGN_BENCH_SUBMISSIONS:-50}" \
COUNTERSIGN_BENCH_DECISIONS="${COUNTERSIGN_BENCH_DECISIONS:-100}" \
  cargo bench --quiet -p countersign-broker --bench api
printf '\033[1m==> queue render with 10,000 drafts, a 5 MiB diff\033[0m\n' >&2
(cd ui && npx vitest run src/App.test.tsx src/components/TextDiffView.test.tsx -t "10,000-draft queue|5 MiB" 2>&1 | grep -E "rendered in|shown in|Tests ")
