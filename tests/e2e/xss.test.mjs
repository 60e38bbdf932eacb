// End-to-end: hostile drafts in the real window. An agent files drafts whose summary, target,
// post body (also in the Markdown preview), request URL, headers and body and callback URL hold
// script tags, event handlers, `javascript:` links, inline SVG with script, iframes and remote
// images pointing at a listener this test runs. Opening each one must run no script (a sentinel
// global, the page title, the listener), fetch nothing (the listener gets no request, the page
// reports no CSP violation: nothing even tried), create no active element, leave every draft
// pending, and show the text verbatim. SQL-injection strings are shown verbatim too.
// Run through ./run.sh (its own app session, after app.test.mjs).
import assert from "node:assert/strict";
import http from "node:http";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { apiGet, apiPost, artifact, cfg, cli, sleep, startApp } from "./lib.mjs";

const AGENT = "xss-agent";
const sel = (id, extra = "") => `[data-testid="${id}"]${extra}`;

/** @type {WebdriverIO.Browser} */
let browser;
let token;
/** @type {http.Server} */
let listener;
const hits = []; // every request the listener received: "METHOD url"
let base; // http://127.0.0.1:PORT of the listener

/** Hostile fragments; `${base}` is the listener. A script that runs sets `window.xssRan`. */
function payloads() {
  const run = (name) => `window.xssRan='${name}';document.title='XSS ${name}';fetch('${base}/ran-${name}')`;
  return {
    script: `<script>${run("script")}</script>`,
    imgOnerror: `<img src=x onerror="${run("onerror")}">`,
    remoteImg: `<img src="${base}/remote-img.png">`,
    jsLink: `<a href="javascript:${run("jslink")}">click me</a>`,
    svg: `<svg xmlns="http://www.w3.org/2000/svg" onload="${run("svgonload")}"><script>${run("svgscript")}</script></svg>`,
    iframe: `<iframe src="${base}/frame" srcdoc="<script>parent.${run("iframe")}</script>"></iframe>`,
    styleBg: `<div style="background:url(${base}/bg.png)">styled</div>`,
    mdImg: `![tracking pixel](${base}/md-img.png)`,
    // No spaces or parentheses: the shape a Markdown renderer would turn into a link.
    mdJsLink: `[docs](javascript:window.xssRan='mdlink')`,
  };
}

const SQL = [
  `'; DROP TABLE actions; --`,
  `Robert'); DROP TABLE decisions;--`,
  `" OR 1=1 --`,
  `1; UPDATE actions SET status='approved' WHERE 1=1; --`,
];

/** Everything hostile the page could have done, read from the page itself. */
async function pageState() {
  return browser.execute(() => {
    const active = [];
    for (const el of document.body.querySelectorAll("*")) {
      const tag = el.tagName.toLowerCase();
      if (["script", "iframe", "frame", "object", "embed", "img", "svg", "a", "link", "style", "base", "meta", "video", "audio", "source"].includes(tag)) {
        active.push(`<${tag}>`);
      }
      for (const a of el.attributes) {
        if (/^on/i.test(a.name) || ["src", "srcdoc", "href", "xlink:href", "action", "formaction"].includes(a.name.toLowerCase())) {
          active.push(`<${tag} ${a.name}=${a.value}>`);
        }
      }
    }
    return {
      ran: window.xssRan ?? null,
      title: document.title,
      violations: window.cspViolations ?? null,
      active,
    };
  });
}

async function assertNothingRan(where) {
  // Give an injected script, handler or image load time to happen.
  await sleep(750);
  const st = await pageState();
  assert.equal(st.ran, null, `${where}: a script from the draft ran (${st.ran})`);
  assert.equal(st.title, "Countersign", `${where}: the page title was changed to ${st.title}`);
  assert.deepEqual(st.violations, [], `${where}: the page tried to load something the CSP refused`);
  assert.deepEqual(st.active, [], `${where}: the draft created active elements or attributes`);
  assert.deepEqual(hits, [], `${where}: the listener was contacted`);
}

/** The exact text content of the open detail view (no whitespace folding). */
async function detailText() {
  return browser.execute(() => document.querySelector('[data-testid="detail"]')?.textContent ?? "");
}

async function submit(draft) {
  const r = await apiPost("/v1/actions", token, draft);
  assert.equal(r.status, 201, `the hostile draft is accepted as data: ${r.body}`);
  return JSON.parse(r.body).id;
}

async function openDraft(id) {
  const row = await browser.$(sel("queue-item", `[data-id="${id}"]`));
  await row.waitForExist({ timeout: 20_000, timeoutMsg: `queue row ${id} never appeared` });
  await row.click();
  await (await browser.$(sel("detail", `[data-id="${id}"]`))).waitForExist({
    timeout: 15_000,
    timeoutMsg: `detail view of ${id} did not open`,
  });
}

async function withArtifacts(name, fn) {
  try {
    await fn();
  } catch (e) {
    await browser?.saveScreenshot(path.join(cfg.artifacts, `${name}-failure.png`)).catch(() => {});
    if (browser) artifact(`${name}-failure.html`, await browser.getPageSource().catch((x) => String(x)));
    throw e;
  }
  await browser?.saveScreenshot(path.join(cfg.artifacts, `${name}.png`)).catch(() => {});
}

describe("hostile drafts in the real window", () => {
  before(async () => {
    listener = http.createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "content-type": "image/png" });
      res.end();
    });
    await new Promise((r) => listener.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${listener.address().port}`;

    token = (await cli(["agent", "add", AGENT, "--token-only", "--data-dir", cfg.dataDir])).trim();
    browser = await startApp();
    await (await browser.$(sel("pending-count"))).waitForExist({ timeout: 30_000 });
    // Record every load the CSP refuses: an injected element would show up here even where
    // the CSP stopped it.
    await browser.execute(() => {
      window.cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) => {
        window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    assert.deepEqual((await pageState()).active, [], "the app's own page has no active elements to confuse the check");
    // Control: the checks see an element that loads something (added here through the DOM).
    await browser.execute((u) => {
      const img = document.createElement("img");
      img.id = "xss-control";
      img.src = u;
      document.body.appendChild(img);
    }, `${base}/control.png`);
    await sleep(750);
    const control = await pageState();
    assert.ok(control.active.includes("<img>"), `the check sees an injected <img>: ${JSON.stringify(control.active)}`);
    assert.ok(
      control.violations.some((v) => v.includes("img-src") && v.includes("/control.png")),
      `the CSP refused the control image and the page reported it: ${JSON.stringify(control.violations)}`,
    );
    assert.deepEqual(hits, [], "the CSP kept the control image from reaching the listener");
    await browser.execute(() => {
      document.getElementById("xss-control").remove();
      window.cspViolations.length = 0;
    });
  });

  after(async () => {
    if (browser) await browser.deleteSession().catch(() => {});
    listener?.close();
  });

  test("a post whose summary, target and body are hostile HTML runs and fetches nothing, raw and as Markdown preview", async () => {
    await withArtifacts("X1-post", async () => {
      const p = payloads();
      const body = [
        "# Release notes",
        ...Object.values(p),
        "Inline `<script>alert(1)</script>` and **bold <b onmouseover=alert(1)>x</b>**",
        ...SQL,
      ].join("\n\n");
      const summary = `Post ${p.script} ${p.imgOnerror} ${SQL[0]}`;
      const target = `forum://eng/${p.svg}`;
      const id = await submit({
        kind: "message.post",
        target,
        summary,
        payload: { channel: `eng-help${p.remoteImg}`, audience: "all-employees", body },
      });
      await openDraft(id);
      await assertNothingRan("raw post");
      const shown = await detailText();
      for (const [name, frag] of Object.entries(p)) {
        assert.ok(shown.includes(frag), `${name} is shown verbatim in the post: ${frag}`);
      }
      for (const s of SQL) assert.ok(shown.includes(s), `SQL shown verbatim: ${s}`);
      assert.ok(shown.includes(summary), "the summary is shown verbatim");
      assert.ok(shown.includes(target), "the target is shown verbatim");

      // The sanitised Markdown preview: links and images are shown as text, not followed.
      await (await browser.$(sel("md-toggle"))).click();
      const preview = await browser.$(sel("markdown-preview"));
      await preview.waitForExist({ timeout: 5_000 });
      await assertNothingRan("Markdown preview");
      const md = await browser.execute(() => document.querySelector('[data-testid="markdown-preview"]').textContent);
      for (const name of ["script", "imgOnerror", "remoteImg", "svg", "iframe", "jsLink"]) {
        assert.ok(md.includes(p[name]), `raw HTML is text in the preview (${name}): ${p[name]}`);
      }
      assert.ok(md.includes(`not loaded: ${base}/md-img.png`), `a Markdown image names its address and is not loaded: ${md}`);
      const links = await browser.execute(() =>
        [...document.querySelectorAll('[data-testid="md-link"]')].map((l) => l.getAttribute("data-href")),
      );
      assert.ok(links.includes("javascript:window.xssRan='mdlink'"), `the javascript: link is shown as text: ${links}`);
      // Clicking it does nothing: it is not a link.
      for (const l of await browser.$$(sel("md-link"))) await l.click();
      await assertNothingRan("after clicking the previewed links");
    });
  });

  test("an HTTP request with a hostile URL, headers and body, and a hostile callback URL, runs and fetches nothing", async () => {
    await withArtifacts("X2-request", async () => {
      const p = payloads();
      const url = `${base}/exfil?q=${p.script}&img=${p.imgOnerror}`;
      const callback = `${base}/callback?${p.iframe}`;
      const id = await submit({
        kind: "http.request",
        target: `${base}/api`,
        summary: `Call ${p.jsLink}`,
        payload: {
          method: "POST",
          url,
          headers: { "x-note": p.svg, "x-sql": SQL[1] },
          body: `${p.remoteImg}\n${p.styleBg}\n${SQL[3]}`,
        },
        callback_url: callback,
      });
      await openDraft(id);
      await assertNothingRan("request draft");
      const shown = await detailText();
      for (const s of [url, callback, p.svg, SQL[1], p.remoteImg, p.styleBg, SQL[3], p.jsLink]) {
        assert.ok(shown.includes(s), `shown verbatim: ${s}`);
      }
    });
  });

  test("after every hostile draft was opened, all are still pending and the API answers them verbatim", async () => {
    await withArtifacts("X3-state", async () => {
      await assertNothingRan("end");
      const list = await browser.execute(() =>
        [...document.querySelectorAll('[data-testid="queue-item"]')].map((r) => [r.getAttribute("data-id"), r.getAttribute("data-status")]),
      );
      const mine = [];
      for (const [id] of list) {
        const r = await apiGet(`/v1/actions/${id}`, token);
        if (r.status === 200) mine.push([id, JSON.parse(r.body)]);
      }
      assert.equal(mine.length, 2, `both drafts of ${AGENT} are listed: ${JSON.stringify(list)}`);
      for (const [id, status] of mine) assert.equal(status.status, "pending", `draft ${id} is still pending`);
    });
  });
});
