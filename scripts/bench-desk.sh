#!/usr/bin/env bash
# Review-desk figures: submission → notification (broker side, over real HTTP, from the agent
# API benchmark), the time to render the queue with 10,000 drafts (the virtualised list in jsdom,
# through the whole App against a fake shell) and to show a 5 MiB diff: in jsdom (the virtualised
# diff alone), in Rust (the review the shell computes: diff, word highlights, JSON), and in the
# real window (tests/e2e/large-diff.test.mjs under Xvfb: submitted through the agent API, clicked,
# time until the diff is painted), when the app and the CLI are built.
#
# Usage: bash scripts/bench-desk.sh   (COUNTERSIGN_BENCH_SUBMISSIONS / _DECISIONS scale part 1;
#        BENCH_PROFILE=debug|release picks the built app for the real window, default debug; a
#        release app can be driven only when built with debug assertions in its crate:
#        cargo build --release --config 'profile.release.package.countersign-app.debug-assertions=true' -p countersign-app)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
printf '\033[1m==> agent API, decision delivery, submission → notification\033[0m\n' >&2
COUNTERSIGN_BENCH_SUBMISSIONS="${COUNTERSIGN_BENCH_SUBMISSIONS:-50}" \
COUNTERSIGN_BENCH_DECISIONS="${COUNTERSIGN_BENCH_DECISIONS:-100}" \
  cargo bench --quiet -p countersign-broker --bench api
printf '\033[1m==> queue render with 10,000 drafts, a 5 MiB diff (jsdom)\033[0m\n' >&2
(cd ui && npx vitest run src/App.test.tsx src/components/TextDiffView.test.tsx -t "10,000-draft queue|5 MiB" 2>&1 | grep -E "rendered in|shown in|Tests ")
printf '\033[1m==> a 5 MiB file.write reviewed in Rust (what get_action computes)\033[0m\n' >&2
cargo bench --quiet -p countersign-core --bench diff
printf '\033[1m==> a 5 MiB diff in the real window\033[0m\n' >&2
target="${CARGO_TARGET_DIR:-$PWD/target}/${BENCH_PROFILE:-debug}"
if [[ -x "$target/countersign-app" && -x "$target/countersign" ]]; then
  COUNTERSIGN_APP_BIN="$target/countersign-app" COUNTERSIGN_CLI_BIN="$target/countersign" \
    E2E_TESTS=./large-diff.test.mjs bash tests/e2e/run.sh 2>&1 | grep -E "large diff:|^# (pass|fail)"
else
  echo "skipped: no app in $target (build it: bash scripts/build.sh, or cargo build --release -p countersign-app -p countersign-cli)"
fi
