// End-to-end: the real Countersign window (tauri-driver → WebKitWebDriver → countersign-app),
// the real agent gate (`countersign exec`) and the real notification path (D-Bus → dunst).
// Run through ./run.sh, which provides the display, the session bus, tauri-driver and the env.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { execFileSync } from "node:child_process";
import {
  answerConfirmDialog,
  apiGet,
  CONFIRM_DIALOG_TITLE,
  apiPost,
  artifact,
  cfg,
  cli,
  eventually,
  exitWithin,
  parseNotifyCalls,
  saveArtifactsAround,
  sleep,
  startApp,
  startGate,
  stripAnsi,
  waitWindowNamed,
  row,
  sel,
  userDataGrant,
} from "./lib.mjs";

const AGENT = "e2e-agent";
const REJECT_REASON = "all-employees must not read analytics.user_data (e2e)";

/** Levels whose approval needs the confirming second click. */
const CONFIRM_LEVELS = ["high", "critical"];


/** @type {WebdriverIO.Browser} */
let browser;
let token;
let trustPath;
let pageMark;
const drafts = {}; // test name -> {id, score, level}
const gates = [];

/** Runs `fn`; on failure saves a screenshot and the page source (see lib.mjs), then rethrows. */
const withArtifacts = (name, fn) => saveArtifactsAround(browser, name, fn);

async function text(selector) {
  return (await browser.$(selector)).getText();
}

/** Texts of every element matching `selector`, in document order. */
async function texts(selector) {
  const out = [];
  for (const el of await browser.$$(selector)) out.push(await el.getText());
  return out;
}

/** Waits until the row of `draftId` shows `status` in the queue (pushed, no reload). */
async function waitRowStatus(draftId, status, timeout = 20_000) {
  await browser.waitUntil(
    async () => {
      const el = await browser.$(row(draftId));
      return (await el.isExisting()) && (await el.getAttribute("data-status")) === status;
    },
    { timeout, interval: 200, timeoutMsg: `queue row ${draftId} never reached status ${status}` },
  );
}

/** Opens the draft's row and waits for its detail view. */
async function openDraft(draftId) {
  await (await browser.$(row(draftId))).click();
  await (await browser.$(sel("detail", `[data-id="${draftId}"]`))).waitForExist({
    timeout: 15_000,
    timeoutMsg: `detail view of ${draftId} did not open`,
  });
}

/** The page must be the one loaded at start (the queue updates are pushed, never a reload). */
async function assertSamePage() {
  const mark = await browser.execute(() => window.__countersignE2eMark ?? null);
  assert.equal(mark, pageMark, "the review page was reloaded; queue updates must be pushed to the open page");
}

function writeDraft(name, draft) {
  const p = path.join(cfg.work, `${name}.json`);
  writeFileSync(p, JSON.stringify(draft, null, 2));
  return p;
}

describe("Countersign desktop app, end to end", () => {
  before(async () => {
    // An agent identity, created in the data dir before the app starts.
    token = (await cli(["agent", "add", AGENT, "--token-only", "--data-dir", cfg.dataDir])).trim();
    assert.match(token, /^cs_[A-Za-z0-9_-]{43}$/, "agent add --token-only prints just the token");

    // The real window. App configuration comes from the environment run.sh exported; the
    // embedded agent API answers once the app is up.
    browser = await startApp();
    const health = JSON.parse((await apiGet("/v1/health")).body);
    assert.equal(health.ok, true);

    // The app created the approver key on first start; the gate pins its public half.
    const trust = await cli(["key", "export-public", "--data-dir", cfg.dataDir]);
    trustPath = path.join(cfg.work, "trust.json");
    writeFileSync(trustPath, trust);

    // The window has loaded its queue (empty).
    await browser.waitUntil(async () => (await text(sel("pending-count"))) === "0", {
      timeout: 30_000,
      timeoutMsg: "the window never showed its (empty) queue: pending-count is not 0",
    });
    // The header shows the key the window signs with; it is the one just exported.
    const keyid = JSON.parse(trust).keyid;
    const shortId = keyid.slice(keyid.indexOf(":") + 1, keyid.indexOf(":") + 13);
    assert.ok(
      (await text(".app-header")).includes(shortId),
      `the header shows approver key ${shortId}: ${await text(".app-header")}`,
    );

    pageMark = `mark-${Date.now()}-${Math.random()}`;
    await browser.execute((m) => {
      window.__countersignE2eMark = m;
    }, pageMark);
    await browser.saveScreenshot(path.join(cfg.artifacts, "0-started.png"));
  });

  after(async () => {
    for (const g of gates) if (g.child.exitCode === null && g.child.signalCode === null) g.child.kill("SIGKILL");
    // The whole screen while the app is still open: the window and the notification bubbles.
    try {
      execFileSync("import", ["-window", "root", path.join(cfg.artifacts, "screen-with-app.png")], { timeout: 15_000 });
    } catch (e) {
      artifact("screen-with-app-error.txt", String(e));
    }
    if (browser) {
      // Ends the session: tauri-driver closes the app.
      await browser.deleteSession().catch(() => {});
    }
  });

  test("A: approving in the window lets the gate run the approved command", async () => {
    await withArtifacts("A-approve", async () => {
      const marker = path.join(cfg.work, "A-marker");
      const draftPath = writeDraft("draftA", {
        kind: "shell.exec",
        target: "host://e2e-runner",
        summary: "Write the e2e approval marker",
        payload: { argv: ["sh", "-c", `echo approved > ${marker}`] },
        expires_in_s: 600,
      });
      const stateDir = path.join(cfg.work, "gate");
      mkdirSync(stateDir, { recursive: true });

      const gate = startGate({ draftPath, trustPath, stateDir, token });
      gates.push(gate);
      const submitted = await gate.submitted;
      drafts.A = submitted;
      assert.equal(submitted.agent, AGENT);

      // The row appears while the page stays open (pushed `queue-changed`, no reload, no click).
      await waitRowStatus(submitted.id, "pending");
      await assertSamePage();
      await browser.waitUntil(async () => (await text(sel("pending-count"))) === "1", {
        timeout: 10_000,
        timeoutMsg: "pending-count did not become 1",
      });
      assert.ok(!existsSync(marker), "nothing ran before the approval");

      await openDraft(submitted.id);
      assert.equal(await text(sel("detail-status")), "pending");
      const scoreText = await text(sel("risk-score"));
      assert.match(scoreText, new RegExp(`^${submitted.score}\\b`), `risk score shown: ${scoreText}`);
      assert.ok((await texts(sel("risk-factor"))).length >= 1, "the risk factors are listed");
      const diff = await text(sel("diff"));
      assert.ok(diff.includes(`echo approved > ${marker}`), `the command is shown: ${diff}`);
      const argv = await texts(sel("argv-item"));
      assert.equal(argv.length, 3, `three argv items: ${JSON.stringify(argv)}`);

      await (await browser.$(sel("approve"))).click();
      const confirm = await browser.$(sel("confirm-approve"));
      if (CONFIRM_LEVELS.includes(submitted.level)) {
        await confirm.waitForExist({ timeout: 5_000, timeoutMsg: `${submitted.level} risk: confirm-approve not shown` });
        assert.ok(!existsSync(marker), "a high-risk draft is not approved by the first click");
        await confirm.click();
        await answerConfirmDialog("approve");
      } else {
        assert.equal(await confirm.isExisting(), false, "confirm-approve is only for high and critical risk");
      }

      const exit = await exitWithin(gate, 30_000, "after approval");
      const { stderr } = gate.output();
      assert.equal(exit.code, 0, `gate exit code after approval; stderr: ${stderr}`);
      assert.match(stderr, new RegExp(`approved by ${cfg.approver} \\((?:approver, )?sha256:`), "the gate names the approver");
      assert.ok(existsSync(marker), "the approved command ran");
      assert.equal(readFileSync(marker, "utf8"), "approved\n");

      await waitRowStatus(submitted.id, "approved");
      await browser.waitUntil(async () => (await text(sel("detail-status"))) === "approved", {
        timeout: 10_000,
        timeoutMsg: "the detail view did not show approved",
      });
      assert.match(await text(sel("decision")), /approved/);
      assert.equal(await (await browser.$(sel("approve"))).isExisting(), false, "no approve button once decided");
      assert.equal(await (await browser.$(sel("error"))).isExisting(), false, "no error banner");
      await assertSamePage();
    });
  });

  test("B: rejecting in the window makes the gate exit 3 and run nothing", async () => {
    await withArtifacts("B-reject", async () => {
      const marker = path.join(cfg.work, "B-marker");
      const draftPath = writeDraft("draftB", userDataGrant("Let everyone query user_data", "read"));
      const stateDir = path.join(cfg.work, "gate");
      const gate = startGate({ draftPath, trustPath, stateDir, token, executor: ["sh", "-c", `cat > ${marker}`] });
      gates.push(gate);
      const submitted = await gate.submitted;
      drafts.B = submitted;

      await waitRowStatus(submitted.id, "pending");
      await assertSamePage();
      await openDraft(submitted.id);
      assert.equal(await text(sel("detail-status")), "pending");
      assert.match(await text(sel("risk-score")), new RegExp(`^${submitted.score}\\b`));
      const factors = await texts(sel("risk-factor"));
      assert.ok(
        factors.some((f) => f.includes("all-employees")),
        `a risk factor names the broad grant: ${JSON.stringify(factors)}`,
      );
      assert.ok((await text(sel("diff"))).includes("all-employees"), "the grant diff shows all-employees");
      assert.ok((await text(sel("impact"))).length > 0, "the impact panel is shown");

      await (await browser.$(sel("reject"))).click();
      const reason = await browser.$(sel("reject-reason"));
      await reason.waitForDisplayed({ timeout: 5_000 });
      await reason.setValue(REJECT_REASON);
      await (await browser.$(sel("confirm-reject"))).click();

      const exit = await exitWithin(gate, 30_000, "after rejection");
      const { stderr } = gate.output();
      assert.equal(exit.code, 3, `gate exit code after rejection; stderr: ${stderr}`);
      assert.ok(stderr.includes(REJECT_REASON), `the gate reports the reason: ${stderr}`);
      assert.match(stderr, /Nothing was run/);
      assert.ok(!existsSync(marker), "the executor did not run");

      await waitRowStatus(submitted.id, "rejected");
      await browser.waitUntil(async () => (await text(sel("detail-status"))) === "rejected", {
        timeout: 10_000,
        timeoutMsg: "the detail view did not show rejected",
      });
      assert.ok((await text(sel("decision"))).includes(REJECT_REASON), "the decision shows the reason");
      assert.equal(await text(sel("pending-count")), "0");
      assert.equal(await (await browser.$(sel("error"))).isExisting(), false, "no error banner");
      await assertSamePage();

      // The API agrees with the window.
      const status = JSON.parse((await apiGet(`/v1/actions/${submitted.id}`, token)).body);
      assert.equal(status.status, "rejected");
    });
  });

  test("C: each draft raised a desktop notification naming the agent", async () => {
    await withArtifacts("C-notify", async () => {
      assert.ok(drafts.A && drafts.B, "tests A and B submitted their drafts");
      const calls = await eventually(
        () => {
          const c = parseNotifyCalls(readFileSync(cfg.dbusLog, "utf8")).filter((n) => n.app === "Countersign");
          return c.length >= 2 ? c : null;
        },
        { timeout: 10_000, what: "two Notify calls from Countersign in the D-Bus log" },
      );
      for (const [kind, d] of [
        ["shell.exec", drafts.A],
        ["acl.change", drafts.B],
      ]) {
        const n = calls.find((c) => c.summary.includes(`${AGENT} wants ${kind}`));
        assert.ok(n, `a Notify call for the ${kind} draft: ${JSON.stringify(calls.map((c) => c.summary))}`);
        assert.ok(n.summary.includes(`${d.level} risk (${d.score})`), `notification shows the risk: ${n.summary}`);
      }

      // notify-rust got an id back from the server for each draft.
      const log = stripAnsi(readFileSync(cfg.appLog, "utf8"));
      for (const d of [drafts.A, drafts.B]) {
        const line = log.split("\n").find((l) => l.includes("desktop notification shown") && l.includes(d.id));
        assert.ok(line, `app log: "desktop notification shown" for draft ${d.id}`);
        assert.match(line, /notification_id=\d+/);
      }
    });
  });

  test("D: a critical draft is approved only by a confirming second click and the native dialog", async () => {
    await withArtifacts("D-critical", async () => {
      const marker = path.join(cfg.work, "D-marker");
      const draft = userDataGrant("Give all-employees admin on user_data", "admin");
      const draftPath = writeDraft("draftD", draft);
      const stateDir = path.join(cfg.work, "gate");
      // The executor receives the approved action (from the signed body) on stdin.
      const gate = startGate({ draftPath, trustPath, stateDir, token, executor: ["sh", "-c", `cat > ${marker}`] });
      gates.push(gate);
      const submitted = await gate.submitted;
      assert.equal(submitted.level, "critical", `this draft must score critical, got ${submitted.level} (${submitted.score})`);

      await waitRowStatus(submitted.id, "pending");
      await openDraft(submitted.id);
      await (await browser.$(sel("approve"))).click();
      const confirm = await browser.$(sel("confirm-approve"));
      await confirm.waitForExist({ timeout: 5_000, timeoutMsg: "critical risk: confirm-approve not shown" });

      // One click decided nothing.
      await sleep(500);
      assert.equal(JSON.parse((await apiGet(`/v1/actions/${submitted.id}`, token)).body).status, "pending");
      assert.equal(await text(sel("detail-status")), "pending");
      assert.equal(gate.child.exitCode, null, "the gate is still waiting");
      assert.ok(!existsSync(marker), "nothing ran after the first click");

      // The in-window Confirm is not enough: Rust asks again in a native dialog.
      await confirm.click();
      await waitWindowNamed(CONFIRM_DIALOG_TITLE);
      await sleep(300);
      assert.equal(JSON.parse((await apiGet(`/v1/actions/${submitted.id}`, token)).body).status, "pending");
      assert.equal(gate.child.exitCode, null, "the gate still waits while the dialog is open");
      await answerConfirmDialog("approve");
      const exit = await exitWithin(gate, 30_000, "after confirmed approval");
      const { stderr } = gate.output();
      assert.equal(exit.code, 0, `gate exit code after confirmed approval; stderr: ${stderr}`);
      const ran = JSON.parse(readFileSync(marker, "utf8"));
      for (const k of ["kind", "target", "summary", "payload", "before"]) {
        assert.deepEqual(ran[k], draft[k], `the executor got the approved action's ${k}`);
      }
      await waitRowStatus(submitted.id, "approved");
      await assertSamePage();
    });
  });

  test("F: the engineer edits the shell command in the window, approves, and the gate runs the edit", async () => {
    await withArtifacts("F-edit", async () => {
      const original = path.join(cfg.work, "F-original");
      const edited = path.join(cfg.work, "F-edited");
      const draftPath = writeDraft("draftF", {
        kind: "shell.exec",
        target: "host://e2e-runner",
        summary: "Write the original marker",
        payload: { argv: ["sh", "-c", `echo original > ${original}`] },
        expires_in_s: 600,
      });
      const stateDir = path.join(cfg.work, "gate");
      const gate = startGate({ draftPath, trustPath, stateDir, token });
      gates.push(gate);
      const submitted = await gate.submitted;
      await waitRowStatus(submitted.id, "pending");
      await openDraft(submitted.id);
      const shownDigest = await text(sel("action-digest"));

      await (await browser.$(sel("edit"))).click();
      const payload = await browser.$(sel("edit-payload"));
      await payload.waitForDisplayed({ timeout: 5_000, timeoutMsg: "the editor did not open" });
      await payload.clearValue();
      await payload.setValue(JSON.stringify({ argv: ["sh", "-c", `echo edited > ${edited}`] }));
      // Rust re-checks the edit; the diff and the digest shown are the edit's.
      const digestEl = await browser.$(sel("edit-digest"));
      await digestEl.waitForExist({ timeout: 10_000, timeoutMsg: "the edit was not previewed" });
      await browser.waitUntil(async () => (await text(sel("diff"))).includes(`echo edited > ${edited}`), {
        timeout: 10_000,
        timeoutMsg: "the diff does not show the edited command",
      });
      const editDigest = await digestEl.getText();
      assert.match(editDigest, /^sha256:/);
      assert.notEqual(editDigest, shownDigest, "the edit has its own digest");
      const editLevel = (await (await browser.$(`${sel("risk-score")} [data-level]`)).getAttribute("data-level")) ?? "";

      await (await browser.$(sel("approve"))).click();
      if (CONFIRM_LEVELS.includes(editLevel)) {
        const confirm = await browser.$(sel("confirm-approve"));
        await confirm.waitForExist({ timeout: 5_000, timeoutMsg: `${editLevel} risk: confirm-approve not shown` });
        await confirm.click();
      }
      // Rust asks natively when the draft or the edit is high or critical.
      if (CONFIRM_LEVELS.includes(editLevel) || CONFIRM_LEVELS.includes(submitted.level)) {
        await answerConfirmDialog("approve");
      }
      const exit = await exitWithin(gate, 30_000, "after the edited approval");
      const { stderr } = gate.output();
      assert.equal(exit.code, 0, `gate exit code after the edited approval; stderr: ${stderr}`);
      assert.match(stderr, /after editing it/, "the gate says the human edited the action");
      assert.ok(existsSync(edited), "the edited command ran");
      assert.equal(readFileSync(edited, "utf8"), "edited\n");
      assert.ok(!existsSync(original), "the agent's original command did not run");
      await waitRowStatus(submitted.id, "approved");
      // The decided draft says that what was signed is the edit, and shows it.
      const signedEdit = await browser.$(sel("signed-edit"));
      await signedEdit.waitForExist({ timeout: 10_000, timeoutMsg: "the decision does not show the signed edit" });
      assert.ok((await signedEdit.getText()).includes(`echo edited > ${edited}`), "the signed edit is shown");
      assert.equal(await (await browser.$(sel("error"))).isExisting(), false, "no error banner");
      await assertSamePage();
    });
  });

  test("G: by keyboard alone the engineer finds, opens and rejects a draft with a suggestion; lookalikes are marked", async () => {
    await withArtifacts("G-keyboard", async () => {
      const marker = path.join(cfg.work, "G-marker");
      const reason = "Do not send people to that link (e2e)";
      const suggestion = "Link the internal docs page instead";
      const draftPath = writeDraft("draftG", {
        kind: "message.post",
        target: "forum://eng/thread/7",
        // "раypal": Cyrillic р and а in a Latin word; the body carries an ANSI erase-line.
        summary: "Reply about \u0440\u0430ypal login",
        payload: { channel: "eng", body: "See the docs\u001b[2K at [https://docs.example.com](https://evil.example.net/login)" },
        expires_in_s: 600,
      });
      const stateDir = path.join(cfg.work, "gate");
      const gate = startGate({ draftPath, trustPath, stateDir, token, executor: ["sh", "-c", `cat > ${marker}`] });
      gates.push(gate);
      const submitted = await gate.submitted;
      await waitRowStatus(submitted.id, "pending");

      // "/" focuses the search; the queue narrows to the draft; j puts the cursor on it; Enter opens it.
      await browser.execute(() => document.activeElement?.blur());
      await browser.keys(["/"]);
      await browser.waitUntil(
        async () => (await browser.execute(() => document.activeElement?.getAttribute("data-testid"))) === "queue-search",
        { timeout: 5_000, timeoutMsg: "/ did not focus the search" },
      );
      await (await browser.$(sel("queue-search"))).setValue(submitted.id.slice(0, 13));
      await browser.waitUntil(async () => (await browser.$$(sel("queue-item"))).length === 1, {
        timeout: 5_000,
        timeoutMsg: "the search did not narrow the queue to the draft",
      });
      await browser.execute(() => document.activeElement?.blur());
      await browser.keys(["j"]);
      await browser.keys(["Enter"]);
      await (await browser.$(sel("detail", `[data-id="${submitted.id}"]`))).waitForExist({
        timeout: 10_000,
        timeoutMsg: "j + Enter did not open the draft",
      });

      // The homoglyph word and the ANSI sequence are marked in the window.
      const mixed = await browser.$(`${sel("detail")} ${sel("mixed-script")}`);
      await mixed.waitForExist({ timeout: 5_000, timeoutMsg: "the mixed-script word is not marked" });
      assert.equal(await mixed.getAttribute("data-scripts"), "Cyrillic+Latin");
      assert.ok(await (await browser.$(`${sel("detail")} .hidden-char[data-kind="ansi"]`)).isExisting(), "the ANSI sequence is a badge");
      assert.ok(await (await browser.$(sel("lookalike-banner"))).isExisting(), "the detail view warns about them");

      // "?" shows the sheet; Escape closes it.
      await browser.keys(["?"]);
      await (await browser.$(sel("shortcuts"))).waitForDisplayed({ timeout: 5_000, timeoutMsg: "? did not show the shortcuts" });
      await browser.keys(["Escape"]);
      await (await browser.$(sel("shortcuts"))).waitForExist({ reverse: true, timeout: 5_000 });

      // "r" opens the reason with the focus in it.
      await browser.execute(() => document.activeElement?.blur());
      await browser.keys(["r"]);
      await browser.waitUntil(
        async () => (await browser.execute(() => document.activeElement?.getAttribute("data-testid"))) === "reject-reason",
        { timeout: 5_000, timeoutMsg: "r did not focus the reason" },
      );
      await (await browser.$(sel("reject-reason"))).setValue(reason);
      await (await browser.$(sel("reject-suggestion"))).setValue(suggestion);
      await (await browser.$(sel("confirm-reject"))).click();

      const exit = await exitWithin(gate, 30_000, "after the keyboard rejection");
      const { stderr } = gate.output();
      assert.equal(exit.code, 3, `gate exit code after rejection; stderr: ${stderr}`);
      assert.ok(stderr.includes(reason), `the agent gets the reason: ${stderr}`);
      assert.ok(stderr.includes(`Suggestion: ${suggestion}`), `the agent gets the suggestion: ${stderr}`);
      assert.ok(!existsSync(marker), "nothing ran");

      // Escape in the search clears it.
      await (await browser.$(sel("queue-search"))).click();
      await browser.keys(["Escape"]);
      await browser.waitUntil(async () => (await (await browser.$(sel("queue-search"))).getValue()) === "", {
        timeout: 5_000,
        timeoutMsg: "Escape did not clear the search",
      });
      await assertSamePage();
    }).finally(async () => {
      // Whatever happened, leave the queue unfiltered for the next test.
      const clear = await browser.$("button=Clear");
      if (await clear.isExisting()) await clear.click();
    });
  });

  test("E: an agent added in the window can submit with the token shown once", async () => {
    await withArtifacts("E-add-agent", async () => {
      await (await browser.$(sel("add-agent"))).click();
      const name = await browser.$(sel("agent-name"));
      await name.waitForDisplayed({ timeout: 5_000 });
      await name.setValue("e2e-ui-agent");
      await (await browser.$(sel("create-agent"))).click();
      const tokenEl = await browser.$(sel("agent-token"));
      await tokenEl.waitForDisplayed({ timeout: 10_000, timeoutMsg: "the new agent's token was not shown" });
      const uiToken = (await tokenEl.getText()).trim();
      assert.match(uiToken, /^cs_[A-Za-z0-9_-]{43}$/);
      await (await browser.$("button=Done")).click();
      await (await browser.$(sel("agent-token"))).waitForExist({ reverse: true, timeout: 5_000 });

      const r = await apiPost("/v1/actions", uiToken, {
        kind: "message.post",
        target: "forum://eng/questions",
        summary: "Answer from the UI-created agent",
        payload: { channel: "eng/questions", body: "Hello from e2e" },
      });
      assert.equal(r.status, 201, `submission with the UI token: ${r.body}`);
      const sub = JSON.parse(r.body);
      assert.equal(sub.agent, "e2e-ui-agent");
      await waitRowStatus(sub.id, "pending");
      assert.ok((await text(row(sub.id))).includes("e2e-ui-agent"), "the row names the new agent");
      await assertSamePage();
    });
  });
});
