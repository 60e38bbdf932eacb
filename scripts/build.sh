#!/usr/bin/env bash
# Builds the UI (ui/dist, which the Tauri app embeds) and then the app and the CLI (debug).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh
printf '\033[1m==> building the UI\033[0m\n' >&2
(cd ui && npm run build --silent)
printf '\033[1m==> building countersign-app and countersign\033[0m\n' >&2
cargo build --quiet -p countersign-app -p countersign-cli
