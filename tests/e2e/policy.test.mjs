// End-to-end: the policy view in the real window. Another lead signs policy.toml (serial 1).
// Started with a lead trust file that pins only that lead, the window shows the policy read-only
// and says why. Restarted with the local approver pinned as a lead too, the engineer edits the
// thresholds, sees the preview list a pending draft that would move, signs and applies; a new
// draft is then scored under the new thresholds, and the files on disk verify on their own.
// Run through ./run.sh (its own app sessions, one after the other).
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { apiGet, apiPost, artifact, cfg, cli, eventually, startApp, stopApp } from "./lib.mjs";

const AGENT = "policy-agent";
const sel = (id, extra = "") => `[data-testid="${id}"]${extra}`;

const POLICY_1 = `serial = 1
org_domains = ["example.com"]

[thresholds]
lead_required_from = 75
`;
// Everything under 100 is approved by the policy itself: the draft below moves bands.
const POLICY_2 = `serial = 2
org_domains = ["example.com"]

[thresholds]
auto_approve_below = 100
lead_required_from = 100
`;
const DRAFT = {
  kind: "shell.exec",
  target: "host://build-01",
  summary: "list the build directory (policy e2e)",
  payload: { argv: ["ls", "-la", "/srv/build"] },
};

/** @type {WebdriverIO.Browser | undefined} */
let browser;
let token;
const dir = path.join(cfg.work, "policy");
const policyPath = path.join(dir, "policy.toml");
const trustOther = path.join(dir, "lead-other.json");
const trustBoth = path.join(dir, "lead-both.json");

async function shot(name) {
  await browser?.saveScreenshot(path.join(cfg.artifacts, `policy-${name}.png`)).catch(() => {});
}

async function start(trust) {
  browser = await startApp({ args: ["--policy", policyPath, "--lead-trust", trust] });
}

/** Ends the session (which closes the app) and waits for the agent API port to be free. */
async function stop() {
  const b = browser;
  browser = undefined;
  await stopApp(b);
}

/** Clicks an element of the (scrollable) policy dialog: WebKitWebDriver does not scroll it. */
async function press(id) {
  const el = await browser.$(sel(id));
  await el.waitForExist({ timeout: 10_000 });
  await browser.execute((e) => e.scrollIntoView({ block: "center" }), el);
  await el.click();
}

async function submit() {
  const r = await apiPost("/v1/actions", token, DRAFT);
  assert.equal(r.status, 201, `submission accepted: ${r.body}`);
  return JSON.parse(r.body);
}

/** Opens the policy view with the keyboard (`p`), as the shortcut sheet says. */
async function openPolicyByKeyboard() {
  const button = await browser.$(sel("open-policy"));
  await button.waitForExist({ timeout: 20_000 });
  await eventually(async () => /serial \d/.test(await button.getText()), { what: "the policy serial in the header" });
  await (await browser.$("body")).click({ x: 1, y: 1 }).catch(() => {});
  await browser.keys(["p"]);
  const view = await browser.$(sel("policy-view"));
  await view.waitForDisplayed({ timeout: 10_000, timeoutMsg: "p did not open the policy view" });
  return view;
}

describe("policy view in the real window", () => {
  before(async () => {
    mkdirSync(dir, { recursive: true });
    const otherData = path.join(dir, "other-lead-data");
    const other = JSON.parse(await cli(["key", "export-public", "--role", "lead", "--data-dir", otherData]));
    const local = JSON.parse(await cli(["key", "export-public", "--role", "lead", "--data-dir", cfg.dataDir]));
    writeFileSync(trustOther, JSON.stringify({ keys: [other] }));
    writeFileSync(trustBoth, JSON.stringify({ keys: [other, local] }));
    writeFileSync(policyPath, POLICY_1);
    await cli(["policy", "sign", policyPath, "--data-dir", otherData]);
    token = (await cli(["agent", "add", AGENT, "--token-only", "--data-dir", cfg.dataDir])).trim();
  });

  after(async () => {
    await stop();
  });

  test("a non-lead reads the policy in force and is told why it is read-only", async () => {
    await start(trustOther);
    const view = await openPolicyByKeyboard();
    const bands = await (await browser.$(sel("policy-bands"))).getText();
    assert.match(bands, /0–74/, "the one-approver band");
    assert.match(bands, /75–100/, "the lead band from the policy's threshold");
    assert.match(bands, /pinned as a lead/, "what the band means");
    assert.equal(await (await browser.$(sel("policy-serial"))).getText(), "1");
    assert.match(await (await browser.$(sel("policy-domains"))).getText(), /example\.com/);
    const line = await (await browser.$(sel("policy-read-only"))).getText();
    assert.match(line, /not pinned as a lead/, `the read-only line says why: ${line}`);
    assert.equal(await (await browser.$(sel("policy-edit"))).isExisting(), false, "no edit for a non-lead");
    assert.ok(await view.isDisplayed());
    await shot("read-only");
    await stop();
  });

  test("a lead edits, previews the drafts that move, signs, and new drafts follow the new thresholds", async () => {
    await start(trustBoth);
    const before = await submit();
    assert.equal(before.status, "pending", "serial 1 has no auto-approve band");

    await openPolicyByKeyboard();
    await press("policy-edit");
    const text = await browser.$(sel("policy-text"));
    await text.waitForDisplayed({ timeout: 5_000 });
    assert.match(await text.getValue(), /^serial = 2$/m, "the edit starts from the next serial");
    // Typed line by line with Enter: WebKitWebDriver drops "\n" inside setValue.
    await text.clearValue();
    for (const line of POLICY_2.trimEnd().split("\n")) {
      if (line) await text.addValue(line);
      await browser.keys(["Enter"]);
    }
    assert.equal((await text.getValue()).trim(), POLICY_2.trim(), "the edit as typed");
    const signButton = await browser.$(sel("policy-sign"));
    assert.equal(await signButton.isEnabled(), false, "nothing is signed before a preview");

    await press("policy-preview");
    await eventually(
      async () => (await browser.$(sel("policy-preview-result")).isExisting()) || (await browser.$(sel("policy-error")).isExisting()),
      { timeout: 15_000, what: "the preview or its error" },
    );
    await browser.pause(500); // let the window repaint before the screenshot
    await shot("preview");
    const dialog = await (await browser.$(sel("policy-view"))).getText();
    assert.ok(await browser.$(sel("policy-moves")).isExisting(), `the preview lists moves: ${dialog}`);
    const movesText = await (await browser.$(sel("policy-moves"))).getText();
    assert.ok(movesText.includes(before.id.slice(0, 8)), `the pending draft is listed: ${movesText}`);
    assert.match(movesText, /One approver → Auto-approve/);

    await press("policy-sign");
    await (await browser.$(sel("policy-signed"))).waitForDisplayed({ timeout: 15_000 });
    assert.equal(await (await browser.$(sel("policy-serial"))).getText(), "2");
    await shot("signed");

    const after = await submit();
    assert.equal(after.status, "approved", "scored under serial 2: approved by the policy");
    const decision = JSON.parse((await apiGet(`/v1/actions/${after.id}`, token)).body);
    assert.equal(decision.status, "approved");

    // What the window wrote verifies on its own against the pinned leads.
    assert.equal(readFileSync(policyPath, "utf8"), POLICY_2);
    const check = JSON.parse(await cli(["policy", "check", policyPath, "--lead-trust", trustBoth]));
    artifact("policy-check.json", JSON.stringify(check, null, 2));
    assert.equal(check.serial ?? check.policy?.serial, 2);
  });
});
