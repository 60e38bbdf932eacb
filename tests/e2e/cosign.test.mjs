// End-to-end: co-signing between two machines. The engineer's app (its own data dir, a policy
// under which every draft needs a lead, the local key not a lead) approves a draft in the real
// window: it stays pending, "awaiting co-signature", and the window exports the request. The
// lead — another data dir, another key — signs it with `countersign cosign sign`; the window
// imports the response, and the agent's gate, demanding two approvers and a lead, runs the
// action under the two-signature envelope. Then the lead's side in the window: the lead's own
// app (its data dir) opens a request whose claimed risk was understated, shows the mismatch and
// the digest, co-signs after the native dialog, and the engineer's app imports that response.
// Run through ./run.sh (its own app session).
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
  eventually,
  exitWithin,
  row,
  run,
  saveArtifactsAround,
  sel,
  startApp,
  startGate,
  stopApp,
} from "./lib.mjs";

const AGENT = "cosign-agent";
const dir = path.join(cfg.work, "cosign");
const engineerData = path.join(dir, "engineer-data");
const leadData = path.join(dir, "lead-data");
const policyPath = path.join(dir, "policy.toml");
const leadTrust = path.join(dir, "lead.json");
const teamTrust = path.join(dir, "team.json");

/** @type {WebdriverIO.Browser | undefined} */
let browser;
let token;
const gates = [];

/** Clicks `el` once it is displayed, scrolled into view; retries while another element covers it. */
async function press(el) {
  await el.waitForDisplayed({ timeout: 15_000 });
  await browser.execute((e) => e.scrollIntoView({ block: "center" }), el);
  await eventually(async () => el.click().then(() => true), { timeout: 10_000, what: `a click on ${el.selector}` });
}

describe("co-signing in the real window", () => {
  before(async () => {
    mkdirSync(dir, { recursive: true });
    const lead = JSON.parse(await cli(["key", "export-public", "--role", "lead", "--approver", "lea", "--data-dir", leadData]));
    const engineer = JSON.parse(await cli(["key", "export-public", "--data-dir", engineerData]));
    writeFileSync(leadTrust, JSON.stringify({ keys: [lead] }));
    writeFileSync(teamTrust, JSON.stringify({ keys: [engineer, lead] }));
    writeFileSync(policyPath, "serial = 1\n[thresholds]\nlead_required_from = 0\n");
    await cli(["policy", "sign", policyPath, "--data-dir", leadData]);
    token = (await cli(["agent", "add", AGENT, "--token-only", "--data-dir", engineerData])).trim();
    browser = await startApp({ args: ["--data-dir", engineerData, "--policy", policyPath, "--lead-trust", leadTrust] });
  });

  after(async () => {
    for (const g of gates) if (g.child.exitCode === null) g.child.kill("SIGKILL");
    await stopApp(browser);
  });

  test("an engineer's approval waits for a lead's signature from another data dir; the gate runs the co-signed action", async () => {
    await saveArtifactsAround(browser, "cosign", async () => {
      const marker = path.join(dir, "marker");
      const draftPath = path.join(dir, "draft.json");
      writeFileSync(
        draftPath,
        JSON.stringify({
          kind: "shell.exec",
          target: "host://build-01",
          summary: "write a marker (co-sign e2e)",
          payload: { argv: ["sh", "-c", `echo ran > ${marker}`] },
        }),
      );
      const gate = startGate({
        draftPath,
        trustPath: teamTrust,
        stateDir: path.join(dir, "gate"),
        token,
        gateArgs: ["--approvals", "2", "--lead"],
      });
      gates.push(gate);
      const submitted = await gate.submitted;

      // The engineer approves in the window: the button says a lead must co-sign.
      const queueRow = await browser.$(row(submitted.id));
      await press(queueRow);
      await (await browser.$(sel("cosign-needed"))).waitForDisplayed({ timeout: 15_000 });
      const approve = await browser.$(sel("approve"));
      assert.match(await approve.getText(), /ask a lead to co-sign/);
      await press(approve);
      const confirm = await browser.$(sel("confirm-approve"));
      if (await confirm.isExisting()) await press(confirm);
      await answerConfirmDialog("approve");

      // Awaiting co-signature: who signed, what is missing; nothing released, nothing ran.
      const panel = await browser.$(sel("cosign"));
      await panel.waitForDisplayed({ timeout: 15_000, timeoutMsg: "the awaiting co-signature panel" });
      assert.match(await (await browser.$(sel("cosign-signers"))).getText(), /\(approver\)/);
      assert.match(await (await browser.$(sel("cosign-missing"))).getText(), /lead/);
      assert.equal(JSON.parse((await apiGet(`/v1/actions/${submitted.id}`, token)).body).status, "pending");
      assert.equal(gate.child.exitCode, null, "the gate still waits");
      assert.ok(!existsSync(marker));

      // Export, as a file in the app's co-sign directory.
      await press(await browser.$(sel("cosign-export")));
      const written = await browser.$(`${sel("cosign-exported")} code`);
      await written.waitForExist({ timeout: 10_000 });
      const requestPath = await written.getText();
      assert.equal(requestPath, path.join(engineerData, "cosign", `${submitted.id}.request.json`));
      const request = JSON.parse(readFileSync(requestPath, "utf8"));
      assert.equal(request.type, "countersign.cosign-request");
      assert.equal(request.v, 1);

      // The lead, on another data dir, reviews and signs after typing the digest's first 8 digits.
      const prefix = request.action_digest.slice("sha256:".length, "sha256:".length + 8);
      const signed = await run(cfg.cliBin, ["cosign", "sign", requestPath, "--out", path.join(dir, "response.json"), "--data-dir", leadData], {
        input: `${prefix}\n`,
      });
      assert.equal(signed.code, 0, `cosign sign: ${signed.stderr}`);
      assert.match(signed.stderr, /risk scored here/);

      // The engineer imports the response in the window: quorum met, envelope released.
      await (await browser.$(sel("cosign-import"))).addValue(path.join(dir, "response.json"));
      const exit = await exitWithin(gate, 60_000, "after the co-signature was imported");
      const { stderr } = gate.output();
      assert.equal(exit.code, 0, `gate exit code; stderr: ${stderr}`);
      assert.equal(readFileSync(marker, "utf8").trim(), "ran");
      assert.match(stderr, /lea \(lead/, "the gate names the lead among the signers");
      await eventually(async () => (await (await browser.$(sel("detail-status"))).getText()) === "approved", {
        timeout: 15_000,
        what: "the draft to show as approved",
      });
    });
  });

  test("the lead's window shows an understated risk as a mismatch, co-signs, and the engineer's window imports it", async () => {
    // The engineer approves a second draft for co-signing and exports it (no gate waits on it).
    const filed = await apiPost("/v1/actions", token, {
      kind: "shell.exec",
      target: "host://build-01",
      summary: "clean the cache (co-sign e2e, lead's window)",
      payload: { argv: ["rm", "-rf", "/var/cache/build"] },
    });
    assert.equal(filed.status, 201, filed.body);
    const { id } = JSON.parse(filed.body);
    await saveArtifactsAround(browser, "cosign-engineer", async () => {
      await press(await browser.$(row(id)));
      await press(await browser.$(sel("approve")));
      const confirm = await browser.$(sel("confirm-approve"));
      if (await confirm.isExisting()) await press(confirm);
      await answerConfirmDialog("approve");
      await press(await browser.$(sel("cosign-export")));
      await (await browser.$(`${sel("cosign-exported")} code`)).waitForExist({ timeout: 10_000 });
    });
    const request = JSON.parse(readFileSync(path.join(engineerData, "cosign", `${id}.request.json`), "utf8"));
    // The file claims a harmless score; the lead's app must score the action itself.
    request.risk = { score: 1, level: "low", factors: [] };
    const claimed = path.join(dir, "request-claimed-low.json");
    writeFileSync(claimed, JSON.stringify(request));
    await stopApp(browser);

    browser = await startApp({ args: ["--data-dir", leadData] });
    let responsePath;
    await saveArtifactsAround(browser, "cosign-lead", async () => {
      await press(await browser.$(sel("open-cosign")));
      await (await browser.$(sel("cosign-open"))).addValue(claimed);
      const mismatch = await browser.$(sel("risk-mismatch"));
      await mismatch.waitForDisplayed({ timeout: 15_000, timeoutMsg: "the mismatch banner" });
      assert.match(await mismatch.getText(), /RISK MISMATCH: the file claims 1 \(low\)/);
      assert.equal(await (await browser.$(sel("cosign-digest"))).getText(), request.action_digest);
      await press(await browser.$(sel("cosign-sign")));
      await answerConfirmDialog("approve");
      const written = await browser.$(`${sel("cosign-written")} code`);
      await written.waitForExist({ timeout: 15_000 });
      responsePath = await written.getText();
      await browser.pause(500); // let the window repaint before the screenshot
    });
    assert.equal(responsePath, path.join(leadData, "cosign", `${id}.response.json`));
    await stopApp(browser);

    browser = await startApp({ args: ["--data-dir", engineerData, "--policy", policyPath, "--lead-trust", leadTrust] });
    await saveArtifactsAround(browser, "cosign-import", async () => {
      await press(await browser.$(row(id)));
      await (await browser.$(sel("cosign"))).waitForDisplayed({ timeout: 15_000 });
      await (await browser.$(sel("cosign-import"))).addValue(responsePath);
      await eventually(async () => (await (await browser.$(sel("detail-status"))).getText()) === "approved", {
        timeout: 15_000,
        what: "the co-signed draft to show as approved",
      });
    });
    const decision = JSON.parse((await apiGet(`/v1/actions/${id}/decision`, token)).body);
    assert.equal(decision.status, "approved");
    assert.equal(decision.envelope.signatures.length, 2, "the engineer's and the lead's signatures");
  });
});
