// End-to-end: the desktop shell around the review window — the native confirmation dialog Rust
// raises before a high-risk approval, the notification's "Open" action, reminders and
// deny-by-default on expiry. Its own app session, data dir and API port (see before()).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  answerConfirmDialog,
  apiGet,
  cfg,
  cli,
  CONFIRM_DIALOG_TITLE,
  eventually,
  exitWithin,
  freePort,
  saveArtifactsAround,
  sleep,
  startApp,
  startGate,
  waitWindowNamed,
  windowsNamed,
  row,
  sel,
  userDataGrant,
} from "./lib.mjs";

const AGENT = "desk-agent";

/** @type {WebdriverIO.Browser} */
let browser;
let token;
let trustPath;
let dataDir;
const gates = [];

/** Runs `fn`; on failure saves a screenshot and the page source (see lib.mjs), then rethrows. */
const withArtifacts = (name, fn) => saveArtifactsAround(browser, `desk-${name}`, fn);

function writeDraft(name, draft) {
  const p = path.join(cfg.work, `desk-${name}.json`);
  writeFileSync(p, JSON.stringify(draft, null, 2));
  return p;
}

/** A draft that scores critical: admin on user data for everyone. */
const criticalDraft = (summary, expiresIn = 600) => userDataGrant(summary, "admin", expiresIn);

const status = async (id) => JSON.parse((await apiGet(`/v1/actions/${id}`, token)).body).status;

async function openDraft(draftId) {
  await (await browser.$(row(draftId))).waitForExist({ timeout: 20_000, timeoutMsg: `row ${draftId} never appeared` });
  await (await browser.$(row(draftId))).click();
  await (await browser.$(sel("detail", `[data-id="${draftId}"]`))).waitForExist({
    timeout: 15_000,
    timeoutMsg: `detail view of ${draftId} did not open`,
  });
}

describe("Countersign desk shell, end to end", () => {
  before(async () => {
    // A data dir and port of its own, so this session does not see the other files' drafts.
    dataDir = path.join(cfg.work, "desk-data");
    mkdirSync(dataDir, { recursive: true });
    const port = await freePort();
    cfg.api = `http://127.0.0.1:${port}`;
    token = (await cli(["agent", "add", AGENT, "--token-only", "--data-dir", dataDir])).trim();
    browser = await startApp({
      args: ["--data-dir", dataDir, "--listen", `127.0.0.1:${port}`],
    });
    await eventually(async () => (await apiGet("/v1/health")).status === 200, {
      timeout: 60_000,
      what: `GET ${cfg.api}/v1/health`,
    });
    trustPath = path.join(cfg.work, "desk-trust.json");
    writeFileSync(trustPath, await cli(["key", "export-public", "--data-dir", dataDir]));
    await browser.waitUntil(async () => (await (await browser.$(sel("pending-count"))).getText()) === "0", {
      timeout: 30_000,
      timeoutMsg: "the window never showed its (empty) queue",
    });
  });

  after(async () => {
    for (const g of gates) if (g.child.exitCode === null && g.child.signalCode === null) g.child.kill("SIGKILL");
    if (browser) await browser.deleteSession().catch(() => {});
  });

  test("a critical approval waits for the native dialog: cancel signs nothing, Approve lets the gate run", async () => {
    await withArtifacts("native-confirm", async () => {
      const marker = path.join(cfg.work, "desk-confirm-marker");
      const draft = criticalDraft("Give all-employees admin on user_data (desk)");
      const stateDir = path.join(cfg.work, "desk-gate");
      const gate = startGate({
        draftPath: writeDraft("confirm", draft),
        trustPath,
        stateDir,
        token,
        executor: ["sh", "-c", `cat > ${marker}`],
      });
      gates.push(gate);
      const submitted = await gate.submitted;
      assert.equal(submitted.level, "critical", `the draft must score critical: ${submitted.score}`);
      await openDraft(submitted.id);

      // Approve, then the window's own Confirm: Rust now asks in a native dialog.
      await (await browser.$(sel("approve"))).click();
      await (await browser.$(sel("confirm-approve"))).click();
      await waitWindowNamed(CONFIRM_DIALOG_TITLE);
      await sleep(500);
      assert.equal(await status(submitted.id), "pending", "nothing is signed while the dialog is open");
      assert.equal(gate.child.exitCode, null, "the gate still waits");

      // Escape cancels: still pending, the window says so, nothing ran.
      await answerConfirmDialog("cancel");
      await (await browser.$(sel("error"))).waitForExist({ timeout: 10_000, timeoutMsg: "no message after cancel" });
      assert.match(await (await browser.$(sel("error"))).getText(), /cancelled/i);
      assert.equal(await status(submitted.id), "pending", "cancel signs nothing");
      assert.equal(gate.child.exitCode, null, "the gate still waits after cancel");
      assert.ok(!existsSync(marker), "nothing ran");

      // A script in the webview calling the command directly meets the same dialog.
      const scripted = browser.execute(async (id) => {
        const detail = await window.__TAURI_INTERNALS__.invoke("get_action", { id });
        try {
          await window.__TAURI_INTERNALS__.invoke("approve", { id, actionDigest: detail.action_digest });
          return "approved";
        } catch (e) {
          return e.code ?? String(e);
        }
      }, submitted.id);
      await waitWindowNamed(CONFIRM_DIALOG_TITLE);
      assert.equal(await status(submitted.id), "pending", "a scripted approve call waits for the human too");
      await answerConfirmDialog("cancel");
      assert.equal(await scripted, "cancelled", "the scripted call is refused as cancelled");
      assert.equal(await status(submitted.id), "pending");

      // Now the human confirms: Approve in the dialog (Alt+A), and the gate runs.
      if (!(await (await browser.$(sel("confirm-approve"))).isExisting())) await (await browser.$(sel("approve"))).click();
      await (await browser.$(sel("confirm-approve"))).click();
      await answerConfirmDialog("approve");
      const exit = await exitWithin(gate, 30_000, "after the confirmed approval");
      assert.equal(exit.code, 0, `gate exit code; stderr: ${gate.output().stderr}`);
      const ran = JSON.parse(readFileSync(marker, "utf8"));
      assert.deepEqual(ran.payload, draft.payload, "the executor got the approved action");
      assert.equal(await status(submitted.id), "approved");
      assert.deepEqual(await windowsNamed(CONFIRM_DIALOG_TITLE), [], "no dialog left open");
    });
  });
});
