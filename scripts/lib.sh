# Sourced by the scripts: puts the toolchains setup.sh may have installed on PATH.
[ -d "$HOME/.cargo/bin" ] && PATH="$HOME/.cargo/bin:$PATH"
if command -v python3 >/dev/null 2>&1; then
  user_bin="$(python3 -m site --user-base 2>/dev/null)/bin"
  [ -x "$user_bin/node" ] && PATH="$user_bin:$PATH"
fi
export PATH
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
