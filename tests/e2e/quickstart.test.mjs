// End-to-end: the README's five-minute start, run as written. The Python snippet between
// `<!-- quickstart:begin -->` and `<!-- quickstart:end -->` in README.md is extracted verbatim
// and run as the agent (the working copy's SDK, clients/python/src) against the real app; the
// engineer approves it, then rejects a second run, in the real window.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { apiGet, artifact, cfg, cli, eventually, exitWithin, startApp } from "./lib.mjs";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const AGENT = "quickstart";
const REJECT_REASON = "keep the old log for the post-mortem (e2e)";
const sel = (id, extra = "") => `[data-testid="${id}"]${extra}`;

/** The README's quickstart Python snippet: the one ```python block between the markers. */
function quickstartSnippet(readme) {
  const region = /<!-- quickstart:begin -->\n([\s\S]*?)<!-- quickstart:end -->/.exec(readme);
  assert.ok(region, "README.md has the <!-- quickstart:begin --> … <!-- quickstart:end --> markers");
  const blocks = [...region[1].matchAll(/```python\n([\s\S]*?)```/g)];
  assert.equal(blocks.length, 1, "exactly one python block between the quickstart markers");
  return blocks[0][1];
}

/** @type {WebdriverIO.Browser} */
let browser;
let env;
let script;
const agents = [];

/** Runs the snippet in `dir` as the agent would: {child, exited, output()} (as `startGate`). */
function runAgent(dir) {
  const child = spawn("python3", [script], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((res) => child.on("close", (code, signal) => res({ code, signal })));
  const agent = { child, exited, output: () => ({ stdout, stderr }) };
  agents.push(agent);
  return agent;
}

/** A directory holding build/old.log, the file the snippet asks to delete. */
function workDir(name) {
  const dir = path.join(cfg.work, name);
  mkdirSync(path.join(dir, "build"), { recursive: true });
  writeFileSync(path.join(dir, "build", "old.log"), "old\n");
  return dir;
}

/** The quickstart agent's drafts, from the data dir (read-only `countersign queue --json`). */
async function agentDrafts() {
  const rows = JSON.parse(await cli(["queue", "--json", "--data-dir", cfg.dataDir]));
  return rows.filter((r) => r.agent === AGENT);
}

/** Waits for the agent's one new pending draft, opens it in the window, resolves its row. */
async function openNewDraft(known, agent) {
  const draft = await eventually(
    async () => {
      if (agent.child.exitCode !== null) throw new Error(`the agent exited early: ${agent.output().stderr}`);
      return (await agentDrafts()).find((r) => r.status === "pending" && !known.includes(r.id));
    },
    { timeout: 30_000, what: "the snippet's draft in the queue" },
  );
  const row = await browser.$(sel("queue-item", `[data-id="${draft.id}"]`));
  await row.waitForExist({ timeout: 20_000, timeoutMsg: `the window never listed draft ${draft.id}` });
  await row.click();
  await (await browser.$(sel("detail", `[data-id="${draft.id}"]`))).waitForExist({ timeout: 15_000 });
  return draft;
}

async function shot(name) {
  await browser.saveScreenshot(path.join(cfg.artifacts, `quickstart-${name}.png`)).catch(() => {});
}

describe("README five-minute start: a Python agent gated in the real window", () => {
  before(async () => {
    const token = (await cli(["agent", "add", AGENT, "--token-only", "--data-dir", cfg.dataDir])).trim();
    browser = await startApp(); // resolves once the agent API answers
    const trustPath = path.join(cfg.work, "quickstart-approver.pub");
    writeFileSync(trustPath, await cli(["key", "export-public", "--data-dir", cfg.dataDir]));
    script = path.join(cfg.work, "quickstart.py");
    writeFileSync(script, quickstartSnippet(readFileSync(path.join(REPO, "README.md"), "utf8")));
    env = {
      ...process.env,
      COUNTERSIGN_TOKEN: token,
      COUNTERSIGN_TRUST: trustPath,
      COUNTERSIGN_API: cfg.api,
      COUNTERSIGN_GATE_DIR: path.join(cfg.work, "quickstart-gate"),
      PYTHONPATH: path.join(REPO, "clients/python/src"),
      PYTHONDONTWRITEBYTECODE: "1",
    };
  });

  after(async () => {
    for (const a of agents) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill("SIGKILL");
    if (browser) await browser.deleteSession().catch(() => {});
  });

  test("approved in the window, the snippet runs the approved command exactly once", async () => {
    const dir = workDir("quickstart-approve");
    const agent = runAgent(dir);
    const draft = await openNewDraft([], agent);
    assert.equal(draft.kind, "shell.exec");
    assert.ok((await (await browser.$(sel("diff"))).getText()).includes("build/old.log"), "the window shows the argv");
    assert.ok(existsSync(path.join(dir, "build", "old.log")), "nothing ran before the approval");
    await shot("pending");

    await (await browser.$(sel("approve"))).click();
    const confirm = await browser.$(sel("confirm-approve"));
    if (["high", "critical"].includes(draft.level)) {
      await confirm.waitForExist({ timeout: 5_000 });
      await confirm.click();
    }
    const exit = await exitWithin(agent, 30_000, "after approval");
    const { stdout, stderr } = agent.output();
    artifact("quickstart-approve.txt", `exit ${exit.code}\n--- stdout\n${stdout}--- stderr\n${stderr}`);
    await shot("approved");
    assert.equal(exit.code, 0, `the snippet exits 0 after approval; stderr: ${stderr}`);
    assert.equal(stdout, "removed 'build/old.log'\n", "the approved command ran once, and printed its own output");
    assert.ok(!existsSync(path.join(dir, "build", "old.log")), "the approved command deleted the file");
    const status = JSON.parse((await apiGet(`/v1/actions/${draft.id}`, env.COUNTERSIGN_TOKEN)).body);
    assert.equal(status.status, "approved");
    assert.equal((await agentDrafts()).length, 1, "one run of the snippet files one draft");
  });

  test("rejected in the window, the snippet runs nothing and says why", async () => {
    const known = (await agentDrafts()).map((r) => r.id);
    const dir = workDir("quickstart-reject");
    const agent = runAgent(dir);
    const draft = await openNewDraft(known, agent);

    await (await browser.$(sel("reject"))).click();
    const reason = await browser.$(sel("reject-reason"));
    await reason.waitForDisplayed({ timeout: 5_000 });
    await reason.setValue(REJECT_REASON);
    await (await browser.$(sel("confirm-reject"))).click();

    const exit = await exitWithin(agent, 30_000, "after rejection");
    const { stdout, stderr } = agent.output();
    artifact("quickstart-reject.txt", `exit ${exit.code}\n--- stdout\n${stdout}--- stderr\n${stderr}`);
    await shot("rejected");
    assert.equal(exit.code, 1, `sys.exit(message) exits 1; stderr: ${stderr}`);
    assert.equal(stderr.trim(), `not run: ${REJECT_REASON}`, "the snippet prints the engineer's reason");
    assert.equal(stdout, "", "nothing ran");
    assert.ok(existsSync(path.join(dir, "build", "old.log")), "the file is still there");
    const status = JSON.parse((await apiGet(`/v1/actions/${draft.id}`, env.COUNTERSIGN_TOKEN)).body);
    assert.equal(status.status, "rejected");
  });
});
