// End-to-end: the app is single-instance per data dir (a second launch hands over to the first
// and exits 0 without opening the store or the port), and its window's size is remembered.
// The app is launched directly (no WebDriver) inside run.sh's Xvfb and D-Bus session.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import { apiGet, cfg, eventually, freePort, run, sleep, stripAnsi } from "./lib.mjs";

const dataDir = path.join(cfg.work, "single-data");
const children = [];

/** Starts the app on `dataDir` with the agent API on `port`; `{child, log(), exited}`. */
function launch(port) {
  const child = spawn(cfg.appBin, ["--data-dir", dataDir, "--listen", `127.0.0.1:${port}`], {
    env: { ...process.env, COUNTERSIGN_LOG: "info", NO_COLOR: "1" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.push(child);
  let log = "";
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((res) => child.on("close", (code, signal) => res({ code, signal })));
  return { child, log: () => stripAnsi(log), exited };
}

const healthy = async (port) => {
  cfg.api = `http://127.0.0.1:${port}`;
  return (await apiGet("/v1/health").catch(() => ({ status: 0 }))).status === 200;
};

/** The app's main window (X id) and its size as "WxH". */
async function mainWindow(pid) {
  const id = await eventually(
    async () => {
      const r = await run("xdotool", ["search", "--onlyvisible", "--pid", String(pid), "--name", "^Countersign$"]);
      return r.stdout.trim().split("\n").filter(Boolean).pop();
    },
    { timeout: 20_000, what: `the window of app ${pid}` },
  );
  const geometry = await run("xdotool", ["getwindowgeometry", id]);
  const size = /Geometry: (\d+x\d+)/.exec(geometry.stdout)?.[1];
  assert.ok(size, `xdotool getwindowgeometry ${id}: ${geometry.stdout}${geometry.stderr}`);
  return { id, size };
}

const within = (p, ms, what) =>
  Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`${what}: not within ${ms} ms`)))]);

describe("single instance and window state", () => {
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  });

  test("a second launch on the same data dir focuses the first and exits 0; the window size is remembered", async () => {
    mkdirSync(dataDir, { recursive: true });
    const port = await freePort();
    const first = launch(port);
    await eventually(() => healthy(port), { timeout: 60_000, what: "the first instance's API" });
    const { id, size: initial } = await mainWindow(first.child.pid);

    // The second launch (another port, so a bound port would show it started for real).
    const port2 = await freePort();
    const second = launch(port2);
    const exit = await within(second.exited, 30_000, "the second launch exiting");
    assert.equal(exit.code, 0, `the second launch exits 0; its log: ${second.log()}`);
    assert.equal(await healthy(port2), false, "the second launch never served the agent API");
    assert.doesNotMatch(second.log(), /agent API on/, "nor opened the desk");
    await eventually(() => first.log().includes("second launch: bringing the window to the front"), {
      timeout: 10_000,
      what: "the first instance to be told",
    });
    assert.ok(await healthy(port), "the first instance still runs");

    // Resize the window, quit (SIGTERM ends the app like Quit), start again: same size.
    const wanted = initial === "1000x640" ? "1100x700" : "1000x640";
    await run("xdotool", ["windowsize", "--sync", id, ...wanted.split("x")]);
    await eventually(async () => (await mainWindow(first.child.pid)).size === wanted, {
      timeout: 10_000,
      what: `the window to become ${wanted}`,
    });
    await sleep(500);
    first.child.kill("SIGTERM");
    const firstExit = await within(first.exited, 30_000, "the first instance quitting on SIGTERM");
    assert.equal(firstExit.code, 0, `SIGTERM quits cleanly; log: ${first.log().slice(-2000)}`);

    const third = launch(port);
    await eventually(() => healthy(port), { timeout: 60_000, what: "the restarted app's API" });
    const restored = await mainWindow(third.child.pid);
    assert.equal(restored.size, wanted, `the window comes back at its last size (default ${initial})`);
    third.child.kill("SIGTERM");
    assert.equal((await within(third.exited, 30_000, "the restarted app quitting")).code, 0);
  });
});
