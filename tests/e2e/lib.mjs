// Helpers for the end-to-end tests: configuration from run.sh's environment, child processes,
// the agent API, polling, and failure artifacts.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { remote } from "webdriverio";

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests through tests/e2e/run.sh`);
  return v;
}

/** Everything run.sh exported. */
export const cfg = {
  appBin: required("COUNTERSIGN_APP_BIN"),
  cliBin: required("COUNTERSIGN_CLI_BIN"),
  work: required("E2E_WORK"),
  artifacts: required("E2E_ARTIFACTS"),
  driverPort: Number(required("E2E_DRIVER_PORT")),
  apiPort: Number(required("E2E_API_PORT")),
  dbusLog: required("E2E_DBUS_LOG"),
  appLog: required("E2E_APP_LOG"),
  dataDir: required("COUNTERSIGN_DATA_DIR"),
  approver: required("COUNTERSIGN_APPROVER"),
};
cfg.api = `http://127.0.0.1:${cfg.apiPort}`;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value (returned) or `timeout` ms pass (throws `what`). */
export async function eventually(fn, { timeout = 30_000, interval = 250, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}` + (lastError ? `: ${lastError.message}` : ""));
    }
    await sleep(interval);
  }
}

/** Runs a command to completion: {code, signal, stdout, stderr}. Killed after `timeout` ms. */
export function run(cmd, args, { env = {}, timeout = 60_000, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    // A child that exits without reading its stdin closes the pipe first: that EPIPE is not a
    // failure of the command (its exit status says how it went).
    child.stdin.on("error", (e) => {
      if (e.code !== "EPIPE") reject(e);
    });
    child.stdin.end(input ?? "");
  });
}

/** Runs the `countersign` CLI and insists on exit 0; returns stdout. */
export async function cli(args, opts) {
  const r = await run(cfg.cliBin, args, opts);
  if (r.code !== 0) {
    throw new Error(`countersign ${args.join(" ")} exited ${r.code ?? r.signal}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/**
 * Starts `countersign exec` in the background (the agent's gate); `gateArgs` are extra options
 * (e.g. `["--approvals", "2", "--lead"]`); `api` the broker it submits to (default: the app's). Returns
 * `{child, submitted, exited, output()}`: `submitted` resolves with `{id, agent, score, level}`
 * from the gate's "submitted" line, `exited` with `{code, signal}`.
 */
export function startGate({ draftPath, trustPath, stateDir, token, executor = [], gateArgs = [], api = cfg.api }) {
  const args = ["exec", "--action", draftPath, "--trust", trustPath, "--api", api, "--state-dir", stateDir, "--timeout", "240"];
  args.push(...gateArgs);
  if (executor.length) args.push("--", ...executor);
  const child = spawn(cfg.cliBin, args, {
    env: { ...process.env, COUNTERSIGN_TOKEN: token, COUNTERSIGN_LOG: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let onSubmitted;
  let onFailed;
  const submitted = new Promise((res, rej) => {
    onSubmitted = res;
    onFailed = rej;
  });
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => {
    stderr += d;
    const m = /draft (\S+) submitted as `([^`]+)` — risk (\d+) \((\w+)\)/.exec(stderr);
    if (m) onSubmitted({ id: m[1], agent: m[2], score: Number(m[3]), level: m[4] });
  });
  const exited = new Promise((res) => {
    child.on("close", (code, signal) => {
      onFailed(new Error(`the gate exited (${code ?? signal}) before submitting: ${stderr.trim()}`));
      res({ code, signal });
    });
  });
  // Callers may never await `submitted` once the gate is gone.
  submitted.catch(() => {});
  return { child, submitted, exited, output: () => ({ stdout, stderr }) };
}

/** Resolves with `exited` or rejects after `timeout` ms (the child is then killed). */
export async function exitWithin(gate, timeout, what) {
  let timer;
  const limit = new Promise((_, rej) => {
    timer = setTimeout(() => {
      gate.child.kill("SIGKILL");
      rej(new Error(`${what}: the gate did not exit within ${timeout} ms; stderr: ${gate.output().stderr.trim()}`));
    }, timeout);
  });
  try {
    return await Promise.race([gate.exited, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * GET on the agent API with node:http (not fetch: fetch adds `Sec-Fetch-Mode`, which the API
 * rightly refuses as a browser request). Resolves {status, body}.
 */
export function apiGet(pathname, token) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${cfg.api}${pathname}`,
      { headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: 5_000 },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/**
 * POST JSON on the agent API (node:http, see {@link apiGet}). Resolves {status, body}. `agent`:
 * an http.Agent (keep-alive, for many requests); `timeout`: ms of socket inactivity allowed.
 */
export function apiPost(pathname, token, json, { agent, timeout = 5_000 } = {}) {
  const data = Buffer.from(JSON.stringify(json));
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${cfg.api}${pathname}`,
      {
        method: "POST",
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "content-length": data.length,
        },
        timeout,
      },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(data);
  });
}

/** Writes `data` under the artifacts dir. */
export function artifact(name, data) {
  mkdirSync(cfg.artifacts, { recursive: true });
  const p = path.join(cfg.artifacts, name);
  writeFileSync(p, data);
  return p;
}

/** Removes ANSI escape sequences (log lines may be coloured). */
export const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");

/**
 * Parses `dbus-monitor` output into Notify calls: {app, replacesId, icon, summary, body, raw}.
 */
export function parseNotifyCalls(text) {
  const blocks = text.split(/\n(?=\S)/).filter((b) => /member=Notify\b/.test(b.split("\n")[0]));
  return blocks.map((raw) => {
    const strings = [...raw.matchAll(/^\s+string "((?:[^"\\]|\\.)*)"/gm)].map((m) => m[1]);
    return { app: strings[0], icon: strings[1], summary: strings[2], body: strings[3], raw };
  });
}

/**
 * Starts the real app through tauri-driver and returns the WebDriver session. Each test file
 * starts its own (run one after another: they share the data dir and the API port); end it
 * with `browser.deleteSession()`, which closes the app. Resolves once the embedded agent API
 * answers `GET /v1/health` (at `cfg.api`). `args`: the app's command line (`tauri:options.args`).
 */
export async function startApp({ args = [] } = {}) {
  const browser = await remote({
    hostname: "127.0.0.1",
    port: cfg.driverPort,
    logLevel: "warn",
    connectionRetryTimeout: 60_000,
    connectionRetryCount: 0,
    capabilities: {
      "wdio:enforceWebDriverClassic": true,
      "tauri:options": { application: cfg.appBin, args },
    },
  }).catch((e) => {
    throw new Error(
      `no WebDriver session with the app (${e.message}). WebKitWebDriver waits forever when the app ` +
        `exits early (see the app's own error in ${path.basename(cfg.appLog)}) or when the app never ` +
        `connects back to WebKitWebDriver's inspector server (WEBKIT_INSPECTOR_SERVER must reach the ` +
        `webview).`,
    );
  });
  await eventually(async () => (await apiGet("/v1/health")).status === 200, {
    timeout: 60_000,
    what: `GET ${cfg.api}/v1/health`,
  });
  return browser;
}

/** Ends `browser`'s session (which closes the app) and waits for the agent API port to be free. */
export async function stopApp(browser) {
  if (!browser) return;
  await browser.deleteSession().catch(() => {});
  await eventually(async () => (await apiGet("/v1/health").then(() => false, () => true)), {
    timeout: 30_000,
    what: "the app to exit",
  });
}

/** A free loopback TCP port (the kernel's pick). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** X window ids whose title contains `title` (xdotool search --name; [] when none). */
export async function windowsNamed(title) {
  const r = await run("xdotool", ["search", "--name", title], { timeout: 10_000 });
  return r.stdout.split("\n").filter((l) => /^\d+$/.test(l.trim())).map((l) => l.trim());
}

/** Waits for a window titled `title` and resolves its X window id. */
export async function waitWindowNamed(title, timeout = 15_000) {
  const ids = await eventually(async () => {
    const found = await windowsNamed(title);
    return found.length ? found : null;
  }, { timeout, what: `an X window named "${title}"` });
  return ids[ids.length - 1];
}

/**
 * Answers a native GTK dialog by keyboard, as a person would: focuses the window `id`, then
 * presses `keys` (xdotool key syntax, e.g. "alt+a" for a `_Approve` button, "Escape" to cancel).
 */
export async function pressKeysIn(id, keys) {
  const focus = await run("xdotool", ["windowfocus", "--sync", id], { timeout: 10_000 });
  if (focus.code !== 0) throw new Error(`xdotool windowfocus ${id}: ${focus.stderr.trim()}`);
  const key = await run("xdotool", ["key", "--clearmodifiers", keys], { timeout: 10_000 });
  if (key.code !== 0) throw new Error(`xdotool key ${keys}: ${key.stderr.trim()}`);
}

/** Title of the app's native confirmation dialog (src-tauri/src/confirm.rs DIALOG_TITLE). */
export const CONFIRM_DIALOG_TITLE = "Countersign: confirm approval";

/**
 * Waits for the app's native confirmation dialog and answers it: `approve` presses Alt+A (the
 * `_Approve` button's mnemonic), `cancel` presses Escape. Resolves once the dialog is gone.
 */
export async function answerConfirmDialog(answer, timeout = 15_000) {
  const id = await waitWindowNamed(CONFIRM_DIALOG_TITLE, timeout);
  await pressKeysIn(id, answer === "approve" ? "alt+a" : "Escape");
  await eventually(async () => !(await windowsNamed(CONFIRM_DIALOG_TITLE)).includes(id), {
    timeout: 10_000,
    what: `the confirmation dialog to close after ${answer}`,
  });
}

/**
 * Runs `fn`; on failure saves a screenshot `<name>-failure.png` and the page source of `browser`
 * (when there is a session), then rethrows. On success saves `<name>.png`.
 */
export async function saveArtifactsAround(browser, name, fn) {
  try {
    await fn();
  } catch (e) {
    if (browser) {
      try {
        await browser.saveScreenshot(path.join(cfg.artifacts, `${name}-failure.png`));
        artifact(`${name}-failure.html`, await browser.getPageSource());
      } catch (shotError) {
        artifact(`${name}-failure-screenshot-error.txt`, String(shotError));
      }
    }
    throw e;
  }
  if (browser) await browser.saveScreenshot(path.join(cfg.artifacts, `${name}.png`)).catch(() => {});
}

/** CSS selector of the element with `data-testid` `id` (plus `extra`, e.g. an attribute test). */
export const sel = (id, extra = "") => `[data-testid="${id}"]${extra}`;

/** CSS selector of the queue row of draft `draftId`. */
export const row = (draftId) => sel("queue-item", `[data-id="${draftId}"]`);

/**
 * An `acl.change` draft granting `all-employees` `permission` on `analytics.user_data` next to
 * data-eng's admin (`read` scores high, `admin` critical), expiring after `expiresIn` seconds.
 */
export function userDataGrant(summary, permission, expiresIn = 600) {
  return {
    kind: "acl.change",
    target: "warehouse://analytics/user_data",
    summary,
    payload: {
      resource: "analytics.user_data",
      grants: [
        { principal: "data-eng", permission: "admin" },
        { principal: "all-employees", permission },
      ],
    },
    before: [{ principal: "data-eng", permission: "admin" }],
    expires_in_s: expiresIn,
  };
}
