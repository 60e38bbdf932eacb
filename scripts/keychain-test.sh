#!/usr/bin/env bash
# The approver key in a real OS keychain, headless: for each test of
# crates/countersign-cli/tests/keychain (ignored in a plain `cargo test`), a fresh
# `dbus-run-session` with gnome-keyring-daemon holding a login keyring unlocked with a known
# password, HOME and XDG_* in a temporary directory (nothing touches your own keyring). One
# session per test: one of them locks the keychain.
# Needs: gnome-keyring, dbus (scripts/setup.sh --test installs them). Prints cargo's
# "test result:" lines, which scripts/test.sh counts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "${1:-}" = "--inside" ]; then
  # Inside the session: start the keyring daemon unlocked, then run one test.
  test_name=$2
  printf '%s' "keychain-test-password" \
    | gnome-keyring-daemon --daemonize --unlock --components=secrets >/dev/null
  # The daemon owns org.freedesktop.secrets once it answers; wait for it.
  for _ in $(seq 50); do
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null \
      | grep -q "boolean true" && break
    sleep 0.1
  done
  exec cargo test --quiet -p countersign-cli --test keychain -- --ignored --exact "$test_name"
fi

for cmd in dbus-run-session gnome-keyring-daemon dbus-send; do
  command -v "$cmd" >/dev/null || { echo "keychain-test: $cmd is missing (apt: dbus gnome-keyring; or scripts/setup.sh --test)" >&2; exit 2; }
done
cargo test --quiet -p countersign-cli --test keychain --no-run
work=$(mktemp -d "${TMPDIR:-/tmp}/countersign-keychain.XXXXXX")
trap 'rm -rf "$work"' EXIT
tests=$(cargo test --quiet -p countersign-cli --test keychain -- --ignored --list 2>/dev/null | sed -n 's/: test$//p')
[ -n "$tests" ] || { echo "keychain-test: no tests found" >&2; exit 1; }
# cargo and rustup keep finding the toolchain although HOME moves.
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
status=0
for t in $tests; do
  home="$work/$t"
  mkdir -p "$home/run" && chmod 700 "$home/run"
  env -u DBUS_SESSION_BUS_ADDRESS -u DISPLAY -u WAYLAND_DISPLAY \
    HOME="$home" XDG_DATA_HOME="$home/.local/share" XDG_CONFIG_HOME="$home/.config" \
    XDG_CACHE_HOME="$home/.cache" XDG_RUNTIME_DIR="$home/run" \
    dbus-run-session -- bash "$0" --inside "$t" 2> >(grep -v "^dbus-daemon\[" >&2) || status=1
done
exit $status
