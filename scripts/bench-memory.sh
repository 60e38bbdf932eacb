#!/usr/bin/env bash
# Review-desk memory: resident memory of the real app (countersign-app) and of its WebKit
# processes (web, network), idle and then with 10,000 pending drafts in the queue.
#
# It builds the UI and a release build of the app and the CLI (BENCH_PROFILE=debug measures the
# debug build instead; BENCH_NO_BUILD=1 skips building), starts the app
# under Xvfb with a fresh data dir and a D-Bus session holding dunst, waits until the window has
# loaded its (empty) queue, reads VmRSS (/proc/PID/status) and Pss (/proc/PID/smaps_rollup) of
# the app and of every process below it, then submits the drafts through the agent API — spread
# over 100 agents so that no agent passes the default cap of 100 pending drafts or its rate limit
# — waits for the window to have shown them (the app logs each list it serves), and reads again.
#
# Usage: bash scripts/bench-memory.sh   (BENCH_DRAFTS=10000, BENCH_AGENTS=100, BENCH_SETTLE=5,
#        BENCH_PROFILE=release|debug). After scripts/setup.sh on a fresh clone.
# Target (issue #5): resident memory under 150 MiB, idle and with the drafts. The verdict is
# stated on RSS for the app process alone and for the app with its WebKit processes (whose RSS
# counts each shared library once per process; PSS shares them fairly).
# Not part of CI. Needs: xvfb-run, dbus-run-session, dunst, python3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh
REPO="$PWD"
DRAFTS="${BENCH_DRAFTS:-10000}"
AGENTS="${BENCH_AGENTS:-100}"
SETTLE="${BENCH_SETTLE:-5}"
PROFILE="${BENCH_PROFILE:-release}"

if [[ "${1:-}" != "--inside" ]]; then
  for cmd in xvfb-run dbus-run-session dunst python3; do
    command -v "$cmd" >/dev/null || { echo "bench-memory: missing command: $cmd" >&2; exit 2; }
  done
  if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    say "building the UI and the $PROFILE app"
    (cd ui && npm run build --silent)
    if [[ "$PROFILE" == release ]]; then
      cargo build --quiet --release -p countersign-app -p countersign-cli
    else
      cargo build --quiet -p countersign-app -p countersign-cli
    fi
  fi
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/countersign-bench-mem.XXXXXX")"
  trap 'rm -rf "$WORK"' EXIT
  mkdir -p "$WORK/xdg-runtime" && chmod 700 "$WORK/xdg-runtime"
  export BENCH_PROFILE="$PROFILE" BENCH_WORK="$WORK" XDG_RUNTIME_DIR="$WORK/xdg-runtime" XDG_DATA_HOME="$WORK/xdg-data"
  export XDG_CACHE_HOME="$WORK/xdg-cache" XDG_CONFIG_HOME="$WORK/xdg-config"
  unset DBUS_SESSION_BUS_ADDRESS WAYLAND_DISPLAY DISPLAY
  export NO_AT_BRIDGE=1
  exec timeout --kill-after=10 "${BENCH_TIMEOUT:-900}" \
    xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" \
    dbus-run-session -- bash "${BASH_SOURCE[0]}" --inside </dev/null
fi

# ---- inside Xvfb and the D-Bus session ------------------------------------------------------
: "${BENCH_WORK:?}"
APP="$REPO/target/$PROFILE/countersign-app"
CLI="$REPO/target/$PROFILE/countersign"
say "measuring $APP"
DATA="$BENCH_WORK/data"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export COUNTERSIGN_DATA_DIR="$DATA" COUNTERSIGN_LISTEN="127.0.0.1:$PORT" COUNTERSIGN_KEY_STORE=file
export COUNTERSIGN_KEY_PASSPHRASE="bench-passphrase-$$" COUNTERSIGN_APPROVER=bench COUNTERSIGN_LOG=info,countersign_app=debug
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null' EXIT

dunst -config /dev/null >"$BENCH_WORK/dunst.log" 2>&1 &
pids+=($!)

say "creating $AGENTS agents"
mkdir -p "$DATA"
for i in $(seq 1 "$AGENTS"); do
  "$CLI" agent add "bench-$i" --token-only --data-dir "$DATA"
done >"$BENCH_WORK/tokens"

say "starting the app"
"$APP" >"$BENCH_WORK/app.log" 2>&1 &
APP_PID=$!
pids+=("$APP_PID")

python3 - "$APP_PID" "$PORT" "$BENCH_WORK" "$DRAFTS" "$SETTLE" <<'PY'
import http.client, json, os, re, sys, threading, time

app_pid, port, work, drafts, settle = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
log_path = os.path.join(work, "app.log")
tokens = open(os.path.join(work, "tokens")).read().split()

def log_lines():
    with open(log_path, errors="replace") as f:
        return re.sub(r"\x1b\[[0-9;]*m", "", f.read())

def wait(what, cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        if not os.path.exists(f"/proc/{app_pid}"):
            sys.exit(f"bench-memory: the app exited while waiting for {what}; app log:\n{log_lines()[-4000:]}")
        time.sleep(0.2)
    sys.exit(f"bench-memory: timed out waiting for {what}; app log:\n{log_lines()[-4000:]}")

def health():
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/v1/health")
        return c.getresponse().status == 200
    except OSError:
        return False

def listed():
    """How many rows the window's queue requests returned (the app logs each list it serves)."""
    return [int(m) for m in re.findall(r"queue listed[^\n]*rows=(\d+)", log_lines())]

def tree(root):
    """root and every process below it (WebKit's web and network processes)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out

def kib(path, field):
    try:
        for line in open(path):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None

def top_mappings(pid, n=4):
    """Where a process's resident memory is: RSS per mapped file ([anon], [heap], libraries)."""
    agg, cur = {}, "[anon]"
    try:
        for line in open(f"/proc/{pid}/smaps"):
            parts = line.split()
            if parts and not parts[0].endswith(":"):
                cur = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
            elif parts and parts[0] == "Rss:":
                agg[cur] = agg.get(cur, 0) + int(parts[1])
    except OSError:
        return ""
    top = sorted(agg.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{k} {v / 1024:.0f}" for k, v in top)

def measure(label):
    rows, rss_total, pss_total, uss_total = [], 0, 0, 0
    for p in tree(app_pid):
        try:
            name = open(f"/proc/{p}/comm").read().strip()
        except OSError:
            continue
        rss = kib(f"/proc/{p}/status", "VmRSS")
        pss = kib(f"/proc/{p}/smaps_rollup", "Pss")
        # USS: the pages only this process holds (private clean + dirty).
        uss = (kib(f"/proc/{p}/smaps_rollup", "Private_Clean") or 0) + (kib(f"/proc/{p}/smaps_rollup", "Private_Dirty") or 0)
        if rss is None:
            continue
        rss_total += rss
        pss_total += pss or 0
        uss_total += uss
        rows.append((name, p, rss, pss, uss))
    print(f"\n{label}")
    for name, p, rss, pss, uss in rows:
        pss_s = f"{pss / 1024:7.1f} MiB" if pss is not None else "    n/a"
        print(f"  {name:<22} pid {p:<7} RSS {rss / 1024:7.1f} MiB   PSS {pss_s}   USS {uss / 1024:7.1f} MiB")
        print(f"  {'':<22} largest (MiB): {top_mappings(p)}")
    print(f"  {'total':<22} {'':<11} RSS {rss_total / 1024:7.1f} MiB   PSS {pss_total / 1024:7.1f} MiB   USS {uss_total / 1024:7.1f} MiB")
    return rss_total, pss_total, uss_total

wait("the agent API", health, 60)
wait("the window to load its queue", lambda: len(listed()) >= 1, 60)
time.sleep(settle)
idle = measure("idle (empty queue)")

def measure_app():
    """RSS, PSS, USS of the app process alone (KiB)."""
    rollup = f"/proc/{app_pid}/smaps_rollup"
    uss = (kib(rollup, "Private_Clean") or 0) + (kib(rollup, "Private_Dirty") or 0)
    return kib(f"/proc/{app_pid}/status", "VmRSS") or 0, kib(rollup, "Pss") or 0, uss

idle_app = measure_app()

# Submit: a few threads, each with a keep-alive connection, agents round-robin.
kinds = [
    lambda i: {"kind": "shell.exec", "target": f"host://runner-{i % 50}", "summary": f"Run the nightly job {i}",
               "payload": {"argv": ["sh", "-c", f"make -C /srv/job{i} all && echo done {i}"]}},
    lambda i: {"kind": "message.post", "target": f"forum://eng/thread/{i}", "summary": f"Reply in thread {i}",
               "payload": {"channel": "eng", "body": f"Answer number {i}: see the runbook, section {i % 17}."}},
    lambda i: {"kind": "file.write", "target": f"repo://service/config/{i}.toml", "summary": f"Tune setting {i}",
               "payload": {"path": f"config/{i}.toml", "content": f"workers = {i % 32}\ntimeout_s = 30\n"}},
]
lock, next_i, failures = threading.Lock(), [0], []
started = time.time()

def worker():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while True:
        with lock:
            i = next_i[0]
            if i >= drafts:
                return
            next_i[0] += 1
        draft = kinds[i % len(kinds)](i)
        draft["expires_in_s"] = 3600
        body = json.dumps(draft).encode()
        headers = {"authorization": f"Bearer {tokens[i % len(tokens)]}", "content-type": "application/json"}
        for attempt in range(20):
            try:
                conn.request("POST", "/v1/actions", body, headers)
                r = conn.getresponse()
                data = r.read()
            except OSError:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            if r.status == 429:
                time.sleep(0.05 * (attempt + 1))
                continue
            if r.status not in (200, 201, 202):
                failures.append(f"{r.status}: {data[:200]!r}")
            break

threads = [threading.Thread(target=worker) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
took = time.time() - started
if failures:
    sys.exit(f"bench-memory: {len(failures)} submissions failed, first: {failures[0]}")
print(f"\nsubmitted {drafts} drafts from {len(tokens)} agents in {took:.1f} s ({drafts / took:.0f}/s)")
wait(f"the window to list {drafts} pending drafts", lambda: any(n >= drafts for n in listed()), 300)
time.sleep(settle)
full = measure(f"with {drafts} pending drafts shown in the queue")
target = 150 * 1024
app_idle, app_full = idle_app, measure_app()

def verdict(a, b):
    """Whether both RSS figures (KiB) are under the target."""
    return "met" if a < target and b < target else "NOT met"

print(f"\napp process: RSS idle {app_idle[0] / 1024:.1f} MiB, with {drafts} drafts {app_full[0] / 1024:.1f} MiB "
      f"(target < 150 MiB on RSS: {verdict(app_idle[0], app_full[0])}); "
      f"PSS {app_idle[1] / 1024:.1f} → {app_full[1] / 1024:.1f} MiB; USS {app_idle[2] / 1024:.1f} → {app_full[2] / 1024:.1f} MiB")
print(f"app + WebKit: RSS idle {idle[0] / 1024:.1f} MiB, with {drafts} drafts {full[0] / 1024:.1f} MiB "
      f"(target < 150 MiB on RSS: {verdict(idle[0], full[0])}); "
      f"PSS {idle[1] / 1024:.1f} → {full[1] / 1024:.1f} MiB; USS {idle[2] / 1024:.1f} → {full[2] / 1024:.1f} MiB")
PY
