// End-to-end: the review desk under load, in the real window with its own app session (own data
// dir and agent API port): batch approval of low-risk drafts, then a 10,000-draft queue.
// Run through ./run.sh (display, session bus, tauri-driver).
import assert from "node:assert/strict";
import http from "node:http";
import path from "node:path";
import { writeFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { apiGet, apiPost, cfg, cli, freePort, row, saveArtifactsAround as withArtifacts, sel, startApp, stopApp } from "./lib.mjs";

/** Drafts in the flood, and the agents sharing them (each stays under the default pending cap of 100). */
const FLOOD = 10_000;
const FLOOD_AGENTS = 100;
/** Drafts in flight at once while flooding. */
const IN_FLIGHT = 8;


/** @type {WebdriverIO.Browser} */
let browser;
const dataDir = path.join(cfg.work, "desk-load-data");
const tokens = {};

async function text(selector) {
  return (await browser.$(selector)).getText();
}

async function waitPending(n, timeout = 30_000) {
  let last;
  await browser.waitUntil(
    async () => {
      last = await text(sel("pending-count"));
      return last === String(n);
    },
    { timeout, interval: 250, timeoutMsg: `pending-count never showed ${n} (last: ${last})` },
  );
}

async function waitRowStatus(draftId, status, timeout = 20_000) {
  await browser.waitUntil(async () => (await (await browser.$(row(draftId))).getAttribute("data-status")) === status, {
    timeout,
    interval: 200,
    timeoutMsg: `queue row ${draftId} never reached status ${status}`,
  });
}

/** Submits `draft` as `agent`; insists on 201. */
async function submit(agent, draft, opts) {
  const r = await apiPost("/v1/actions", tokens[agent], { expires_in_s: 3600, ...draft }, opts);
  assert.equal(r.status, 201, `submission by ${agent} answered ${r.status}: ${r.body}`);
  return JSON.parse(r.body);
}

const post = (thread, body) => ({
  kind: "message.post",
  target: `forum://eng/thread/${thread}`,
  summary: `Thank the reporter on thread ${thread}`,
  payload: { channel: "data-eng", audience: "team:data-eng", body },
});

describe("review desk in the real window: batch approval and a 10,000-draft queue", () => {
  before(async () => {
    // Every agent before the app starts (the CLI writes the same database).
    const names = ["batch-bot", ...Array.from({ length: FLOOD_AGENTS }, (_, i) => `flood-${String(i).padStart(3, "0")}`)];
    for (const name of names) {
      tokens[name] = (await cli(["agent", "add", name, "--token-only", "--data-dir", dataDir])).trim();
    }
    const port = await freePort();
    cfg.api = `http://127.0.0.1:${port}`;
    browser = await startApp({ args: ["--data-dir", dataDir, "--listen", `127.0.0.1:${port}`] });
    await waitPending(0);
  });

  after(async () => {
    await stopApp(browser);
  });

  const batch = {};

  test("theme: the window follows the system's colour scheme (prefers-color-scheme)", async () => {
    const { dark, bg, text } = await browser.execute(() => ({
      dark: matchMedia("(prefers-color-scheme: dark)").matches,
      bg: getComputedStyle(document.body).backgroundColor,
      text: getComputedStyle(document.body).color,
    }));
    // The page background and text of the theme the system asks for (ui/src/styles/app.css).
    const expected = dark
      ? { bg: "rgb(15, 17, 21)", text: "rgb(230, 232, 236)" }
      : { bg: "rgb(246, 247, 249)", text: "rgb(27, 31, 36)" };
    assert.deepEqual({ bg, text }, expected, `${dark ? "dark" : "light"} system scheme`);
    console.info(`desk: the system asks for ${dark ? "dark" : "light"}; the window shows ${bg} / ${text}`);
  });

  test("batch: x and A approve low-risk drafts after a sheet listing their count and targets; a critical one stays pending", async () => {
    await withArtifacts(browser, "load-1-batch", async () => {
      batch.lows = [
        await submit("batch-bot", post(7, "Thanks, fixed in the last release.")),
        await submit("batch-bot", post(7, "Thanks again, the docs are updated too.")),
        await submit("batch-bot", post(8, "Thanks for the report.")),
      ];
      for (const s of batch.lows) assert.equal(s.risk.level, "low", `fixture: a thank-you is low risk: ${JSON.stringify(s.risk)}`);
      batch.grant = await submit("batch-bot", {
        kind: "acl.change",
        target: "warehouse://analytics/user_data",
        summary: "Let everyone query user_data",
        payload: { resource: "analytics.user_data", grants: [{ principal: "all-employees", permission: "read" }] },
      });
      assert.ok(["high", "critical"].includes(batch.grant.risk.level), `fixture: the grant is high or critical`);
      await waitPending(4);

      // The grant's row has no checkbox; the low ones do.
      assert.equal(await (await browser.$(sel("queue-select", `[data-id="${batch.grant.id}"]`))).isExisting(), false);
      // x on the row under the cursor selects it; the checkboxes select the others.
      await (await browser.$(row(batch.lows[0].id))).click();
      await browser.keys(["x"]);
      for (const s of batch.lows.slice(1)) await (await browser.$(sel("queue-select", `[data-id="${s.id}"]`))).click();
      await browser.waitUntil(async () => (await text(sel("selected-count"))) === "3", {
        timeout: 5_000,
        timeoutMsg: "three drafts are not selected",
      });
      await (await browser.$(row(batch.lows[0].id))).click();
      await browser.keys(["A"]);
      const sheet = await browser.$(sel("batch-sheet"));
      await sheet.waitForExist({ timeout: 5_000, timeoutMsg: "A did not open the batch sheet" });
      assert.equal(await text(sel("batch-count")), "3");
      const targets = [];
      for (const t of await browser.$$(sel("batch-target"))) targets.push(await t.getText());
      assert.deepEqual(targets, ["2 × forum://eng/thread/7", "1 × forum://eng/thread/8"], "each target once, with its count");
      for (const s of batch.lows) {
        assert.equal((await apiGet(`/v1/actions/${s.id}/decision`, tokens["batch-bot"])).status, 202, "nothing signed before the confirmation");
      }
      await (await browser.$(sel("batch-confirm"))).click();
      for (const s of batch.lows) await waitRowStatus(s.id, "approved");
      await waitPending(1);
      for (const s of batch.lows) {
        const r = await apiGet(`/v1/actions/${s.id}/decision`, tokens["batch-bot"]);
        assert.equal(r.status, 200, `the agent receives its own signed approval: ${r.body}`);
        const d = JSON.parse(r.body);
        assert.equal(d.status, "approved");
        assert.ok(d.envelope?.signatures?.length === 1, "an envelope with one signature");
      }
      // Each decision verifies with the app's public key, bound to its own draft.
      const trust = path.join(cfg.work, "desk-load-trust.json");
      writeFileSync(trust, await cli(["key", "export-public", "--data-dir", dataDir]));
      const first = JSON.parse((await apiGet(`/v1/actions/${batch.lows[0].id}/decision`, tokens["batch-bot"])).body);
      const envelopePath = path.join(cfg.work, "desk-load-envelope.json");
      writeFileSync(envelopePath, JSON.stringify(first.envelope));
      const verified = await cli(["verify", "--envelope", envelopePath, "--trust", trust]);
      assert.ok(verified.includes(batch.lows[0].id), `verify names the draft: ${verified}`);
      assert.equal(await (await browser.$(row(batch.grant.id))).getAttribute("data-status"), "pending");
    });
  });

  test("batch: the critical draft's id slipped into approve_batch from the window is refused by Rust and stays pending", async () => {
    await withArtifacts(browser, "load-2-batch-adversarial", async () => {
      const result = await browser.executeAsync((id, digest, done) => {
        window.__TAURI_INTERNALS__
          .invoke("approve_batch", { drafts: [{ id, action_digest: digest }] })
          .then((r) => done({ ok: r }), (e) => done({ err: e }));
      }, batch.grant.id, batch.grant.action_digest);
      assert.ok(result.ok, `approve_batch answered: ${JSON.stringify(result)}`);
      assert.deepEqual(result.ok.approved, []);
      assert.equal(result.ok.refused.length, 1);
      assert.equal(result.ok.refused[0].id, batch.grant.id);
      assert.equal(result.ok.refused[0].error.code, "conflict");
      assert.match(result.ok.refused[0].error.message, /only low-risk drafts/);
      assert.equal((await apiGet(`/v1/actions/${batch.grant.id}/decision`, tokens["batch-bot"])).status, 202, "the grant is still undecided");
      await waitPending(1);
    });
  });

  test(`10,000 drafts: the queue shows the count, j/k and scrolling stay responsive, a draft opens, search and filters narrow`, async () => {
    await withArtifacts(browser, "load-3-ten-thousand", async () => {
      // The flood: FLOOD_AGENTS agents, IN_FLIGHT requests at a time over keep-alive connections.
      const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
      const started = Date.now();
      let next = 0;
      const worker = async () => {
        for (;;) {
          const i = next++;
          if (i >= FLOOD) return;
          const name = `flood-${String(i % FLOOD_AGENTS).padStart(3, "0")}`;
          const draft =
            i % 4 === 3
              ? { kind: "shell.exec", target: `host://ci-${i % 10}`, summary: `List the workspace (${i})`, payload: { argv: ["ls", "-la"] } }
              : { ...post(1000 + i, `Thanks (${i}).`), summary: i === 7777 ? "needle-7777: thank the reporter" : `Thank the reporter (${i})` };
          await submit(name, draft, { agent });
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      agent.destroy();
      const submitMs = Date.now() - started;
      const pending = FLOOD + 1;
      const shownStarted = Date.now();
      await waitPending(pending, 120_000);
      const shownMs = Date.now() - shownStarted;
      console.info(`desk: ${FLOOD} drafts submitted in ${submitMs} ms (${((FLOOD / submitMs) * 1000).toFixed(0)}/s); pending count ${pending} shown ${shownMs} ms after the last one`);
      const listed = await (await browser.$("ul.vq")).getAttribute("aria-label");
      assert.equal(listed, `${pending + 3} drafts`, "every draft is in the (virtual) list");
      const inDom = (await browser.$$(sel("queue-item"))).length;
      assert.ok(inDom < 60, `only a window of rows is in the DOM (${inDom})`);

      // 200 × j from the top row: the cursor must end 200 rows further down.
      const top = await browser.$$(sel("queue-item"));
      await top[0].click();
      const cursorTop = () =>
        browser.execute(() => {
          const li = document.querySelector(".queue-item.is-cursor")?.closest("li");
          return li ? parseFloat(li.style.top) : -1;
        });
      const from = await cursorTop();
      const keysStarted = Date.now();
      for (let i = 0; i < 200; i++) await browser.keys(["j"]);
      await browser.waitUntil(async () => (await cursorTop()) >= from + 200 * 76, {
        timeout: 60_000,
        interval: 50,
        timeoutMsg: "the cursor did not move 200 rows down",
      }).catch(async (e) => {
        throw new Error(`${e.message}: from ${from} to ${await cursorTop()}`);
      });
      const keysMs = Date.now() - keysStarted;
      console.info(`desk: 200 j presses with ${pending} pending took ${keysMs} ms (${(keysMs / 200).toFixed(1)} ms each, WebDriver included)`);
      assert.ok(keysMs < 30_000, `200 j presses took ${keysMs} ms`);

      // Scroll to the very end: the last line is rendered.
      const scrollStarted = Date.now();
      await browser.execute(() => {
        const el = document.querySelector('[data-testid="queue-scroll"]');
        el.scrollTop = el.scrollHeight;
      });
      await browser.waitUntil(
        () =>
          browser.execute(() => {
            const ul = document.querySelector("ul.vq");
            const lines = [...ul.querySelectorAll(":scope > li")];
            const bottom = Math.max(...lines.map((li) => parseFloat(li.style.top) + parseFloat(li.style.height)));
            return bottom >= parseFloat(ul.style.height) - 1;
          }),
        { timeout: 20_000, interval: 20, timeoutMsg: "the end of the queue was never rendered" },
      );
      const scrollMs = Date.now() - scrollStarted;
      console.info(`desk: scroll to the end of ${pending + 3} lines rendered in ${scrollMs} ms`);
      assert.ok(scrollMs < 10_000, `scroll to the end took ${scrollMs} ms`);

      // Opening a draft works at the end of the list.
      const rows = await browser.$$(sel("queue-item"));
      const last = rows[rows.length - 1];
      const lastId = await last.getAttribute("data-id");
      await last.click();
      await (await browser.$(sel("detail", `[data-id="${lastId}"]`))).waitForExist({ timeout: 15_000, timeoutMsg: "the draft did not open" });

      // Search narrows to the one needle.
      const searchStarted = Date.now();
      await (await browser.$(sel("queue-search"))).setValue("needle-7777");
      await browser.waitUntil(async () => (await browser.$$(sel("queue-item"))).length === 1, {
        timeout: 15_000,
        timeoutMsg: "the search did not narrow the queue to one draft",
      });
      console.info(`desk: search over ${pending + 3} drafts narrowed to 1 in ${Date.now() - searchStarted} ms`);
      assert.match(await text(sel("queue-item")), /needle-7777/);
      assert.match(await text(sel("filter-note")), /^1 of 10004 shown/);

      // The kind filter narrows to the shell drafts.
      await (await browser.$(sel("queue-search"))).click();
      await browser.keys(["Escape"]);
      await (await browser.$(sel("filter-kind"))).selectByAttribute("value", "shell.exec");
      await browser.waitUntil(async () => (await (await browser.$("ul.vq")).getAttribute("aria-label")) === `${FLOOD / 4} drafts`, {
        timeout: 15_000,
        timeoutMsg: `the kind filter did not narrow the queue to ${FLOOD / 4} shell drafts`,
      });
    });
  });
});
