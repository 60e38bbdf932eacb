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
  apiPost,
  cfg,
  cli,
  CONFIRM_DIALOG_TITLE,
  eventually,
  exitWithin,
  freePort,
  parseNotifyCalls,
  run,
  stripAnsi,
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
    // Reminders after 2 s, so that a high-risk draft is reminded about within the test.
    browser = await startApp({
      args: ["--data-dir", dataDir, "--listen", `127.0.0.1:${port}`, "--remind-after", "2s"],
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
  test("a notification's Open action brings the window to that draft; the app got a notification id", async () => {
    await withArtifacts("notification-open", async () => {
      await run("dunstctl", ["close-all"]);
      const r = await apiPost("/v1/actions", token, {
        kind: "shell.exec",
        target: "host://desk-runner",
        summary: "List the build directory (desk notification)",
        payload: { argv: ["ls", "build"] },
        expires_in_s: 600,
      });
      assert.equal(r.status, 201, `submitted: ${r.body}`);
      const id = JSON.parse(r.body).id;
      assert.notEqual(await (await browser.$(sel("detail"))).getAttribute("data-id"), id, "another draft is open");

      // The app logs the id the notification server gave back for this draft's notification.
      const line = await eventually(
        () => stripAnsi(readFileSync(cfg.appLog, "utf8")).split("\n").find((l) => l.includes("desktop notification shown") && l.includes(id)),
        { timeout: 10_000, what: `the notification of draft ${id}` },
      );
      assert.match(line, /notification_id=[1-9]\d*/, `a notification id came back: ${line}`);

      // The person clicks it: dunst invokes its default action ("Open").
      const invoked = await run("dunstctl", ["action", "0"]);
      assert.equal(invoked.code, 0, `dunstctl action 0: ${invoked.stderr}`);
      await browser.waitUntil(
        async () => (await (await browser.$(sel("detail"))).getAttribute("data-id")) === id,
        { timeout: 10_000, timeoutMsg: `the window did not open draft ${id} from the notification` },
      );
      assert.ok(
        stripAnsi(readFileSync(cfg.appLog, "utf8")).includes(`notification action: open draft=Some("${id}")`),
        "the app logged the action for this draft",
      );
    });
  });

  test("a critical draft left waiting is reminded about, then denied by default at expiry with a notice", async () => {
    await withArtifacts("remind-expire", async () => {
      const draft = criticalDraft("Give all-employees admin on user_data (left waiting)", 7);
      const stateDir = path.join(cfg.work, "desk-gate");
      const started = Date.now();
      const gate = startGate({ draftPath: writeDraft("waiting", draft), trustPath, stateDir, token });
      gates.push(gate);
      const submitted = await gate.submitted;
      const notifies = () => parseNotifyCalls(readFileSync(cfg.dbusLog, "utf8")).filter((n) => n.app === "Countersign");

      // Reminded after 2 s (critical urgency: byte 2), at most once per 2 s interval.
      const reminder = await eventually(
        () => notifies().find((n) => n.summary.startsWith("Still waiting: desk-agent wants acl.change — critical risk")),
        { timeout: 10_000, what: "a reminder notification" },
      );
      assert.match(reminder.body, /denied by default in/, reminder.body);
      assert.match(reminder.raw, /string "urgency"\s+variant\s+byte 2/, "a reminder has critical urgency");
      assert.equal(await status(submitted.id), "pending");

      // At expiry the broker signs a rejection: the gate verifies it and refuses to run.
      const exit = await exitWithin(gate, 30_000, "after expiry");
      assert.equal(exit.code, 3, `the gate reports a rejection; stderr: ${gate.output().stderr}`);
      assert.match(gate.output().stderr, /expired: nobody decided within 7 s/);
      assert.equal(await status(submitted.id), "expired");
      const elapsed = (Date.now() - started) / 1000;
      const count = notifies().filter((n) => n.summary.startsWith("Still waiting: desk-agent")).length;
      assert.ok(count >= 1 && count <= Math.floor(elapsed / 2) + 1, `once per interval: ${count} reminders in ${elapsed} s`);

      // And the desk says so.
      const notice = await eventually(
        () => notifies().find((n) => n.summary === "Expired, denied by default: desk-agent wanted acl.change (critical risk)"),
        { timeout: 10_000, what: "the expiry notice" },
      );
      assert.match(notice.body, /signed rejection/);
    });
  });
});
