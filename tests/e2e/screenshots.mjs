// README screenshots from the real window (not a test of its own: run by scripts/screenshots.sh,
// which sets SCREENSHOTS_OUT; `./*.test.mjs` does not match this file, so CI skips it).
// The forum-incident drafts (examples/forum-incident/agent.sh) and a few from other agents.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { apiPost, cfg, cli, freePort, row, sel, startApp, stopApp } from "./lib.mjs";

const OUT = process.env.SCREENSHOTS_OUT;
const REPO = path.resolve(import.meta.dirname, "../..");
const dataDir = path.join(cfg.work, "screenshots-data");
const tokens = {};
/** @type {WebdriverIO.Browser} */
let browser;
const ids = {};

async function submit(agent, draft) {
  const r = await apiPost("/v1/actions", tokens[agent], { expires_in_s: 3600, ...draft });
  assert.equal(r.status, 201, `${agent}: ${r.body}`);
  return JSON.parse(r.body).id;
}

async function open(id, what) {
  await (await browser.$(row(id))).click();
  await (await browser.$(sel("detail", `[data-id="${id}"]`))).waitForExist({ timeout: 15_000, timeoutMsg: `${what} did not open` });
  await browser.pause(300); // let the diff and fonts settle
}

async function shot(name) {
  await browser.saveScreenshot(path.join(OUT, name));
}

before(async () => {
  assert.ok(OUT, "SCREENSHOTS_OUT is not set: run scripts/screenshots.sh");
  for (const name of ["forum-incident", "build-bot", "docs-bot"]) {
    tokens[name] = (await cli(["agent", "add", name, "--token-only", "--data-dir", dataDir])).trim();
  }
  const port = await freePort();
  cfg.api = `http://127.0.0.1:${port}`;
  browser = await startApp({ args: ["--data-dir", dataDir, "--listen", `127.0.0.1:${port}`] });
  await browser.setWindowSize(1280, 800);
});

after(async () => {
  await stopApp(browser);
});

test("screenshots of the queue, a diff and the impact panel", async () => {
  const configPath = path.join(REPO, "examples/forum-incident/config/exporter.toml");
  const shownPath = "/srv/exporter/config/exporter.toml";
  const old = readFileSync(configPath, "utf8");
  ids.reply = await submit("forum-incident", {
    kind: "message.post",
    target: "forum://internal/eng-help/thread/4121",
    summary: "Answer thread 4121: how analysts can query user_data",
    payload: {
      channel: "eng-help",
      audience: "all-employees",
      reply_to: "4121",
      body:
        'Easiest fix: grant all-employees read access on analytics.user_data, then every dashboard just works:\n\n    GRANT SELECT ON analytics.user_data TO "all-employees";\n\nNo need to wait for the data-eng access review.',
    },
  });
  ids.grant = await submit("forum-incident", {
    kind: "acl.change",
    target: "warehouse://analytics/user_data",
    summary: "Grant all-employees read on analytics.user_data (as advised in thread 4121)",
    payload: {
      resource: "analytics.user_data",
      grants: [
        { principal: "data-eng", permission: "admin" },
        { principal: "analysts-pii", permission: "read" },
        { principal: "all-employees", permission: "read" },
      ],
    },
    before: [
      { principal: "data-eng", permission: "admin" },
      { principal: "analysts-pii", permission: "read" },
    ],
  });
  await submit("forum-incident", {
    kind: "message.post",
    target: "forum://internal/data-eng/thread/4099",
    summary: "Close thread 4099 with a thank-you",
    payload: { channel: "data-eng", audience: "team:data-eng", reply_to: "4099", body: "Thanks, restarting the exporter fixed the lag. Closing this thread." },
  });
  ids.config = await submit("forum-incident", {
    kind: "file.write",
    target: `file://${shownPath}`,
    summary: "Raise the exporter batch size and turn on debug logging",
    payload: { path: shownPath, content: old.replace("batch_size = 500", "batch_size = 2000").replace('log_level = "info"', 'log_level = "debug"') },
    before: old,
  });
  await submit("build-bot", {
    kind: "shell.exec",
    target: "host://build-01",
    summary: "Clean the build cache",
    payload: { argv: ["rm", "-rf", "/var/cache/build"] },
  });
  for (const [n, text] of [
    [311, "Thanks, the docs link is fixed."],
    [312, "Merged, thanks for the review."],
    [318, "Closing as answered."],
  ]) {
    await submit("docs-bot", {
      kind: "message.post",
      target: `forum://internal/docs/thread/${n}`,
      summary: `Reply on docs thread ${n}`,
      payload: { channel: "docs", audience: "team:docs", body: text },
    });
  }
  await browser.waitUntil(async () => (await (await browser.$(sel("pending-count"))).getText()) === "8", {
    timeout: 20_000,
    timeoutMsg: "the queue did not show 8 pending drafts",
  });

  await open(ids.reply, "the forum reply");
  // Two of docs-bot's low-risk replies selected for a batch approval.
  const boxes = await browser.$$(sel("queue-select"));
  for (const b of boxes.slice(0, 2)) await b.click();
  await open(ids.reply, "the forum reply");
  await shot("desk-queue.png");

  await open(ids.config, "the config edit");
  await shot("desk-diff.png");

  await open(ids.grant, "the access change");
  await shot("desk-impact.png");
});
