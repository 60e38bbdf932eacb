// End-to-end: the app joins a team server. `countersign serve --team-roster` runs on its own
// SQLite data dir with a roster (the app's key as an approver, a lead's key) signed by the lead;
// the real window joins it (Team tab: URL + lead trust file; the app signs the login challenge
// with its key), sees the agent's draft arrive live, shows its panels, approves it (signed in
// the app, only the signature uploaded), and the agent's gate — pinning the app's key — runs the
// action under the released envelope. The app restarts still joined. Run through ./run.sh.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  artifact,
  cfg,
  cli,
  eventually,
  exitWithin,
  freePort,
  run,
  saveArtifactsAround,
  sel,
  startApp,
  startGate,
  stopApp,
} from "./lib.mjs";

const dir = path.join(cfg.work, "team");
const appData = path.join(dir, "app-data");
const leadData = path.join(dir, "lead-data");
const serverData = path.join(dir, "server-data");
const leadTrust = path.join(dir, "lead-trust.json");
const gateTrust = path.join(dir, "gate-trust.json");
const rosterPath = path.join(dir, "roster.json");

/** @type {WebdriverIO.Browser | undefined} */
let browser;
let server;
let serverUrl;
let serverLog = "";
let token;
const gates = [];

async function press(el) {
  await el.waitForDisplayed({ timeout: 15_000 });
  await browser.execute((e) => e.scrollIntoView({ block: "center" }), el);
  await eventually(async () => el.click().then(() => true), { timeout: 10_000, what: `a click on ${el.selector}` });
}

describe("team mode in the real window", () => {
  before(async () => {
    mkdirSync(dir, { recursive: true });
    const lead = JSON.parse(await cli(["key", "export-public", "--role", "lead", "--approver", "lea", "--data-dir", leadData]));
    const me = JSON.parse(
      await cli(["key", "export-public", "--role", "approver", "--approver", "ana", "--data-dir", appData]),
    );
    writeFileSync(path.join(dir, "lead.json"), JSON.stringify(lead));
    writeFileSync(path.join(dir, "me.json"), JSON.stringify(me));
    writeFileSync(leadTrust, JSON.stringify({ keys: [lead] }));
    writeFileSync(gateTrust, JSON.stringify({ keys: [me, lead] }));
    const roster = await cli([
      "team", "roster", "--team", "payments", "--serial", "1",
      path.join(dir, "me.json"), path.join(dir, "lead.json"),
    ]);
    writeFileSync(rosterPath, roster);
    await cli(["team", "sign-roster", rosterPath, "--data-dir", leadData]);
    // The lead-signed policy the server runs under: any one approver of the roster.
    const policyPath = path.join(dir, "policy.toml");
    writeFileSync(policyPath, "serial = 1\n");
    await cli(["policy", "sign", policyPath, "--data-dir", leadData]);
    token = (await cli(["agent", "add", "team-agent", "--token-only", "--data-dir", serverData])).trim();
    const port = await freePort();
    serverUrl = `http://127.0.0.1:${port}`;
    server = spawn(
      cfg.cliBin,
      [
        "serve", "--listen", `127.0.0.1:${port}`, "--data-dir", serverData,
        "--policy", path.join(dir, "policy.toml"), "--lead-trust", leadTrust, "--team-roster", rosterPath,
      ],
      { env: { ...process.env, COUNTERSIGN_LOG: "info" }, stdio: ["ignore", "ignore", "pipe"] },
    );
    server.stderr.on("data", (d) => (serverLog += d));
    // A TCP connect (fetch would be refused: the API turns browser-like requests away).
    await eventually(
      () =>
        new Promise((resolve) => {
          const c = net.connect(port, "127.0.0.1", () => {
            c.end();
            resolve(true);
          });
          c.on("error", () => resolve(false));
        }),
      { timeout: 20_000, what: "the team server" },
    );
    browser = await startApp({ args: ["--data-dir", appData] });
  });

  after(async () => {
    for (const g of gates) if (g.child.exitCode === null) g.child.kill("SIGKILL");
    await stopApp(browser);
    if (server && server.exitCode === null) server.kill("SIGTERM");
    artifact("team-server.log", serverLog);
  });

  test("the app joins by challenge, follows the queue live, approves, and the agent's gate runs it", async () => {
    await saveArtifactsAround(browser, "team", async () => {
      await press(await browser.$(sel("tab-team")));
      await (await browser.$(sel("team-server"))).setValue(serverUrl);
      await (await browser.$(sel("team-lead-trust"))).setValue(leadTrust);
      await press(await browser.$(sel("team-join-submit")));
      const name = await browser.$(sel("team-name"));
      await name.waitForDisplayed({ timeout: 20_000 });
      assert.equal(await name.getText(), "payments");
      await eventually(async () => (await (await browser.$(sel("team-connection"))).getAttribute("data-state")) === "live", {
        what: "the team stream to be live",
      });

      // The agent submits to the team server; the draft appears in the window without a reload.
      const marker = path.join(dir, "marker");
      const draftPath = path.join(dir, "draft.json");
      writeFileSync(
        draftPath,
        JSON.stringify({
          kind: "shell.exec",
          target: "host://build-01",
          summary: "touch a marker (team e2e)",
          payload: { argv: ["touch", marker] },
        }),
      );
      const gate = startGate({ draftPath, trustPath: gateTrust, stateDir: path.join(dir, "gate"), token, api: serverUrl });
      gates.push(gate);
      const { id } = await gate.submitted;
      const item = await browser.$(sel("team-item", `[data-id="${id}"]`));
      await item.waitForDisplayed({ timeout: 20_000 });
      await press(item);
      const detail = await browser.$(sel("team-detail", `[data-id="${id}"]`));
      await detail.waitForDisplayed({ timeout: 15_000 });
      assert.ok(await (await detail.$(sel("impact"))).isDisplayed(), "the impact panel is shown");
      assert.ok(await (await detail.$(sel("risk-score"))).isDisplayed(), "the risk panel is shown");
      await run("import", ["-window", "root", artifact("team-view-root.png", "")], { timeout: 20_000 });
      await browser.saveScreenshot(path.join(cfg.artifacts, "team-view.png"));

      await press(await detail.$(sel("approve")));
      const outcome = await browser.$(sel("team-outcome"));
      await outcome.waitForDisplayed({ timeout: 20_000 });
      assert.match(await outcome.getText(), /released to the agent, signed by ana/);
      const done = await exitWithin(gate, 30_000, "after the team approval");
      assert.equal(done.code, 0, `the gate runs the approved action: ${gate.output().stderr}`);
      assert.ok(existsSync(marker), "the action ran");
      await eventually(async () => !(await (await browser.$(sel("team-item", `[data-id="${id}"]`))).isExisting()), {
        what: "the decided draft to leave the team queue",
      });
    });
  });

  test("a restarted app is still joined (the session is saved, 0600)", async () => {
    await saveArtifactsAround(browser, "team-restart", async () => {
      await stopApp(browser);
      browser = await startApp({ args: ["--data-dir", appData] });
      await press(await browser.$(sel("tab-team")));
      const name = await browser.$(sel("team-name"));
      await name.waitForDisplayed({ timeout: 20_000 });
      assert.equal(await name.getText(), "payments");
      const mode = (await run("stat", ["-c", "%a", path.join(appData, "team-session.json")])).stdout.trim();
      assert.equal(mode, "600");
    });
  });
});
