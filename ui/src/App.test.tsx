import { emit } from "@tauri-apps/api/event";
import { mockIPC } from "@tauri-apps/api/mocks";
import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { App } from "./App";
import type { ActionDetail } from "./bindings/ActionDetail";
import type { ShellState } from "./bindings/ShellState";
import type { ApiError } from "./bindings/ApiError";
import type { AppInfo } from "./bindings/AppInfo";
import type { PolicyView } from "./bindings/PolicyView";
import { decision, detail, NOW, policyView } from "./test/fixtures";

const INFO: AppInfo = {
  api_url: "http://127.0.0.1:7823",
  approver: "Ana Reviewer",
  keyid: "sha256:9f86d081884c7d659a2feaa0c55ad015",
  data_dir: "/home/ana/.local/share/countersign",
  version: "0.1.0",
};

const ID = (n: number) => `00000000-0000-4000-8000-0000000000${String(n).padStart(2, "0")}`;

type Call = { cmd: string; args: Record<string, unknown> };

/** A stand-in for the Rust shell: a store of drafts, the commands over it, and a call log. */
class FakeShell {
  calls: Call[] = [];
  drafts = new Map<string, ActionDetail>();
  /** Commands that fail with this error instead of answering. */
  failures = new Map<string, ApiError>();
  /** Commands whose answer waits until released. */
  held = new Map<string, () => void>();
  holdNext = new Set<string>();
  policy: PolicyView = policyView();
  shellState: ShellState = { notifications_paused_until: null, remind_after_s: 300 };

  constructor(...details: ActionDetail[]) {
    for (const d of details) this.drafts.set(d.summary.id, d);
  }

  install() {
    mockIPC((cmd, raw) => this.handle(cmd, (raw ?? {}) as Record<string, unknown>), { shouldMockEvents: true });
  }

  callsOf(cmd: string) {
    return this.calls.filter((c) => c.cmd === cmd);
  }

  private async handle(cmd: string, args: Record<string, unknown>): Promise<unknown> {
    this.calls.push({ cmd, args });
    if (this.holdNext.delete(cmd)) await new Promise<void>((r) => this.held.set(cmd, r));
    const failure = this.failures.get(cmd);
    if (failure) throw failure;
    switch (cmd) {
      case "app_info":
        return INFO;
      case "list_actions":
        return [...this.drafts.values()].map((d) => d.summary).sort((a, b) => b.created_at - a.created_at);
      case "get_action": {
        const d = this.drafts.get(args.id as string);
        if (!d) throw { code: "not_found", message: "no such draft" } satisfies ApiError;
        return d;
      }
      case "approve":
      case "reject": {
        const d = this.drafts.get(args.id as string)!;
        if (args.actionDigest !== d.action_digest) throw { code: "conflict", message: "digest mismatch" } satisfies ApiError;
        const info = decision({
          verdict: cmd === "approve" ? "approved" : "rejected",
          reason: cmd === "reject" ? (args.reason as string) : null,
        });
        this.drafts.set(d.summary.id, {
          ...d,
          summary: { ...d.summary, status: info.verdict },
          decision: info,
        });
        return info;
      }
      case "preview_edit": {
        const action = args.action as ActionDetail["action"];
        const body = JSON.stringify(action.payload);
        if (body.includes("INVALID")) throw { code: "bad_request", message: "invalid edit: bad payload (at /payload)" } satisfies ApiError;
        const d = this.drafts.get(args.id as string)!;
        const score = body.includes("rm -rf") ? 92 : 12;
        return {
          action_digest: `sha256:edited-${body.length}`,
          risk: { score, level: score > 80 ? "critical" : "low", factors: [] },
          review: { ...d.review, change: { type: "text", label: "edited", diff: d.review.change.type === "text" ? d.review.change.diff : { hunks: [], truncated: false }, before_known: true } },
        };
      }
      case "approve_edited": {
        const d = this.drafts.get(args.id as string)!;
        if (args.actionDigest !== d.action_digest) throw { code: "conflict", message: "digest mismatch" } satisfies ApiError;
        const info = decision({ verdict: "approved" });
        this.drafts.set(d.summary.id, { ...d, summary: { ...d.summary, status: "approved" }, decision: info });
        return info;
      }
      case "approve_batch": {
        const approved: string[] = [];
        const refused: { id: string; error: ApiError }[] = [];
        for (const { id, action_digest } of args.drafts as { id: string; action_digest: string }[]) {
          const d = this.drafts.get(id);
          if (!d || d.summary.status !== "pending" || d.summary.level !== "low" || d.action_digest !== action_digest) {
            refused.push({ id, error: { code: "conflict", message: `draft ${id} cannot be approved in a batch` } });
            continue;
          }
          const info = decision({ verdict: "approved" });
          this.drafts.set(id, { ...d, summary: { ...d.summary, status: "approved" }, decision: info });
          approved.push(id);
        }
        return { approved, refused };
      }
      case "list_history":
        return [...this.drafts.values()]
          .filter((d) => d.decision)
          .map((d) => ({ draft: d.summary, approver: d.decision!.approver, decided_at: d.decision!.decided_at, reason: d.decision!.reason }));
      case "policy_view":
        return this.policy;
      case "shell_state":
        return this.shellState;
      case "add_agent":
        return { name: args.name, token: "cs_TESTTOKENabcdefghijklmnopqrstuvwxyz0123456" };
      default:
        throw new Error(`unexpected command ${cmd}`);
    }
  }
}

const low = detail({ id: ID(1), score: 10, level: "low", agent: "docs-bot", created_at: NOW - 50, summary: "Fix a typo" });
const high = detail({ id: ID(2), score: 70, level: "high", agent: "forum-bot", created_at: NOW - 30, summary: "Advise sharing" });
const critical = detail({ id: ID(3), score: 95, level: "critical", agent: "ops-bot", kind: "shell.exec", created_at: NOW - 10 });
const medium = detail({ id: ID(5), score: 40, level: "medium", agent: "mail-bot", created_at: NOW - 200 });
const done = detail({ id: ID(4), score: 90, level: "critical", status: "rejected", created_at: NOW - 5 }, { decision: decision({ verdict: "rejected", reason: "no" }) });

let shell: FakeShell;

beforeEach(() => {
  shell = new FakeShell(low, high, critical, medium, done);
  shell.install();
});

async function renderApp() {
  const user = userEvent.setup();
  render(<App />);
  await waitFor(() => expect(screen.getAllByTestId("queue-item")).toHaveLength(5));
  return user;
}

const rowIds = () => screen.getAllByTestId("queue-item").map((r) => r.getAttribute("data-id"));

async function openDraft(user: ReturnType<typeof userEvent.setup>, id: string) {
  const row = screen.getAllByTestId("queue-item").find((r) => r.getAttribute("data-id") === id)!;
  await user.click(row);
  return waitFor(() => {
    const d = screen.getByTestId("detail");
    expect(d.getAttribute("data-id")).toBe(id);
    return d;
  });
}

describe("queue", () => {
  it("lists pending drafts by risk, then decided ones, with header info and pending count", async () => {
    await renderApp();
    expect(rowIds(), "pending by score desc, then the decided one").toEqual([ID(3), ID(2), ID(5), ID(1), ID(4)]);
    const rows = screen.getAllByTestId("queue-item");
    expect(rows.map((r) => r.getAttribute("data-status"))).toEqual(["pending", "pending", "pending", "pending", "rejected"]);
    expect(within(rows[0]!).getByText("critical")).toBeTruthy();
    expect(screen.getByText("Decided")).toBeTruthy();
    expect(screen.getByTestId("pending-count").textContent).toBe("4");
    await waitFor(() => expect(screen.getByText("Ana Reviewer")).toBeTruthy());
    expect(screen.getByText("9f86d081884c").closest("[title]")?.getAttribute("title")).toContain(INFO.keyid);
    expect(screen.getByText(INFO.api_url)).toBeTruthy();
  });

  it("breaks score ties by age, oldest first", async () => {
    shell = new FakeShell(
      detail({ id: ID(10), score: 50, created_at: NOW - 10 }),
      detail({ id: ID(11), score: 50, created_at: NOW - 100 }),
    );
    shell.install();
    render(<App />);
    await waitFor(() => expect(rowIds()).toEqual([ID(11), ID(10)]));
  });

  it("says so when nothing is pending", async () => {
    shell = new FakeShell(done);
    shell.install();
    render(<App />);
    await waitFor(() => expect(screen.getByText("No pending drafts")).toBeTruthy());
    expect(screen.getByTestId("pending-count").textContent).toBe("0");
  });

  it("refreshes the queue and the open draft when the shell pushes queue-changed", async () => {
    const user = await renderApp();
    await openDraft(user, ID(2));
    const listsBefore = shell.callsOf("list_actions").length;
    shell.drafts.set(ID(2), { ...high, summary: { ...high.summary, status: "expired" } });
    shell.drafts.set(ID(9), detail({ id: ID(9), score: 99, level: "critical", created_at: NOW }));
    await act(() => emit("queue-changed", { id: ID(2), status: "expired", pending: 4 }));
    await waitFor(() => expect(screen.getByTestId("detail-status").textContent).toBe("expired"));
    await waitFor(() => expect(rowIds()[0], "the new draft appears at the top").toBe(ID(9)));
    expect(shell.callsOf("list_actions").length).toBe(listsBefore + 1);
    expect(screen.queryByTestId("approve"), "no decision buttons once not pending").toBeNull();
  });

  it("opens the draft a notification's Open action names, and the queue for a coalesced one", async () => {
    await renderApp();
    await act(() => emit("open-draft", { id: ID(4) }));
    await waitFor(() => expect(screen.getByTestId("detail").getAttribute("data-id")).toBe(ID(4)));
    await act(() => emit("open-draft", { id: null }));
    expect(screen.getByTestId("detail").getAttribute("data-id"), "the queue's open draft stays").toBe(ID(4));
    expect(screen.getAllByTestId("queue-item").length).toBe(5);
  });

  it("shows that notifications are paused, and until when, as the shell says", async () => {
    shell.shellState = { notifications_paused_until: NOW + 3600, remind_after_s: 300 };
    await renderApp();
    await waitFor(() => expect(screen.getByTestId("notifications-paused").textContent).toMatch(/^Notifications paused until \d/));
    await act(() => emit("shell-state", { notifications_paused_until: null, remind_after_s: 300 }));
    await waitFor(() => expect(screen.queryByTestId("notifications-paused")).toBeNull());
  });

  it("reloads the list once for a burst of queue events", async () => {
    await renderApp();
    const listsBefore = shell.callsOf("list_actions").length;
    for (let i = 0; i < 20; i++) {
      shell.drafts.set(ID(30 + i), detail({ id: ID(30 + i), score: 20, created_at: NOW }));
      await act(() => emit("queue-changed", { id: ID(30 + i), status: "pending", pending: 5 + i }));
    }
    await waitFor(() => expect(screen.getByTestId("pending-count").textContent).toBe("24"));
    expect(shell.callsOf("list_actions").length - listsBefore, "one reload for the burst").toBe(1);
  });

  it("moves focus to the queue on j/k, so Enter never lands on a decision button", async () => {
    const user = await renderApp();
    await openDraft(user, ID(1));
    screen.getByTestId("approve").focus();
    await user.keyboard("k");
    expect(document.activeElement?.getAttribute("data-id")).toBe(ID(5));
    await user.keyboard("{Enter}");
    await waitFor(() => expect(screen.getByTestId("detail").getAttribute("data-id")).toBe(ID(5)));
    expect(shell.callsOf("approve")).toHaveLength(0);
  });

  it("moves with j/k and opens with Enter", async () => {
    const user = await renderApp();
    const top = rowIds()[0];
    await waitFor(() => expect(screen.getByTestId("detail").getAttribute("data-id")).toBe(top));
    await user.keyboard("j");
    await user.keyboard("j");
    await user.keyboard("k");
    expect(screen.getByTestId("detail").getAttribute("data-id"), "moving does not open").toBe(top);
    (document.activeElement as HTMLElement | null)?.blur();
    await user.keyboard("{Enter}");
    await waitFor(() => expect(screen.getByTestId("detail").getAttribute("data-id")).toBe(ID(2)));
  });
});

describe("detail", () => {
  it("shows the draft, its impact, every risk factor, the diff and the full digest", async () => {
    const user = await renderApp();
    const d = await openDraft(user, ID(2));
    expect(screen.getByTestId("detail-status").textContent).toBe("pending");
    expect(within(d).getByText("Advise sharing")).toBeTruthy();
    expect(screen.getByTestId("risk-score").textContent).toContain("70");
    expect(screen.getAllByTestId("risk-factor").map((f) => f.querySelector(".factor-points")?.textContent)).toEqual(["+30", "+15"]);
    const flagged = screen.getByTestId("impact").querySelectorAll(".impact-item.flagged");
    expect([...flagged].map((f) => f.textContent)).toEqual(["⚠Audienceall-employees"]);
    expect(screen.getByTestId("diff").querySelectorAll("tr.diff-added")).toHaveLength(1);
    expect(screen.getByTestId("action-digest").textContent).toBe(high.action_digest);
  });

  it("warns about hidden characters anywhere in the action", async () => {
    const sneaky = detail({ id: ID(7), summary: "fine\u202E" });
    sneaky.action = { ...sneaky.action, summary: "fine\u202E", payload: { body: "a\u200Bb\u001B" } };
    shell.drafts.set(ID(7), sneaky);
    const user = userEvent.setup();
    render(<App />);
    await waitFor(() => expect(rowIds()).toContain(ID(7)));
    await openDraft(user, ID(7));
    expect(screen.getByTestId("hidden-banner").textContent).toContain("This draft contains 3 hidden characters");
    const row = screen.getAllByTestId("queue-item").find((r) => r.getAttribute("data-id") === ID(7))!;
    expect(row.querySelector(".qi-hidden-flag"), "the queue row warns even when the summary is cut off").not.toBeNull();
    expect(row.querySelector('.hidden-char[data-codepoint="U+202E"]')).not.toBeNull();
    const clean = screen.getAllByTestId("queue-item").find((r) => r.getAttribute("data-id") === ID(1))!;
    expect(clean.querySelector(".qi-hidden-flag")).toBeNull();
  });
});

describe("deciding", () => {
  it("approves with the id and the exact digest on screen, then shows the decision", async () => {
    const user = await renderApp();
    await openDraft(user, ID(2));
    await user.click(screen.getByTestId("approve"));
    expect(shell.callsOf("approve"), "a high-risk draft is not approved by one click").toHaveLength(0);
    await user.click(screen.getByTestId("confirm-approve"));
    await waitFor(() => expect(screen.getByTestId("decision").textContent).toContain("approved"));
    expect(shell.callsOf("approve").map((c) => c.args)).toEqual([{ id: ID(2), actionDigest: high.action_digest }]);
    expect(screen.getByTestId("detail-status").textContent).toBe("approved");
    expect(screen.getByTestId("decision").textContent).toContain("Ana");
    expect(screen.queryByTestId("approve")).toBeNull();
  });

  it("disables the buttons while the request is in flight", async () => {
    const user = await renderApp();
    await openDraft(user, ID(2));
    shell.holdNext.add("approve");
    await user.click(screen.getByTestId("approve"));
    await user.click(screen.getByTestId("confirm-approve"));
    await waitFor(() => expect(shell.held.has("approve")).toBe(true));
    expect((screen.getByTestId("approve") as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByTestId("reject") as HTMLButtonElement).disabled).toBe(true);
    await act(async () => shell.held.get("approve")!());
    await waitFor(() => expect(screen.getByTestId("decision")).toBeTruthy());
    expect(shell.callsOf("approve"), "one click, one request").toHaveLength(1);
  });

  it("asks a second time before approving a critical draft", async () => {
    const user = await renderApp();
    await openDraft(user, ID(3));
    await user.click(screen.getByTestId("approve"));
    expect(shell.callsOf("approve"), "the first click only asks").toHaveLength(0);
    expect(screen.getByText(/Approve critical-risk action\?/)).toBeTruthy();
    await user.click(screen.getByTestId("confirm-approve"));
    await waitFor(() => expect(screen.getByTestId("decision")).toBeTruthy());
    expect(shell.callsOf("approve").map((c) => c.args)).toEqual([{ id: ID(3), actionDigest: critical.action_digest }]);
  });

  it("does not ask twice for a non-critical draft", async () => {
    const user = await renderApp();
    await openDraft(user, ID(1));
    await user.click(screen.getByTestId("approve"));
    expect(screen.queryByTestId("confirm-approve")).toBeNull();
    await waitFor(() => expect(shell.callsOf("approve")).toHaveLength(1));
  });

  it("requires a reason to reject and sends it", async () => {
    const user = await renderApp();
    await openDraft(user, ID(2));
    await user.click(screen.getByTestId("reject"));
    await user.click(screen.getByTestId("confirm-reject"));
    expect(shell.callsOf("reject"), "no reason, no request").toHaveLength(0);
    expect(screen.getByText("A reason is required to reject.")).toBeTruthy();
    await user.type(screen.getByTestId("reject-reason"), "   ");
    await user.click(screen.getByTestId("confirm-reject"));
    expect(shell.callsOf("reject"), "blank is not a reason").toHaveLength(0);
    await user.type(screen.getByTestId("reject-reason"), "Wrong advice: never grant all-employees");
    await user.click(screen.getByTestId("confirm-reject"));
    await waitFor(() => expect(screen.getByTestId("decision").textContent).toContain("rejected"));
    expect(shell.callsOf("reject").map((c) => c.args)).toEqual([
      { id: ID(2), actionDigest: high.action_digest, reason: "Wrong advice: never grant all-employees" },
    ]);
    expect(screen.getByTestId("decision").textContent).toContain("Wrong advice: never grant all-employees");
  });

  it("shows an ApiError from the shell in the alert banner", async () => {
    const user = await renderApp();
    await openDraft(user, ID(2));
    shell.failures.set("approve", { code: "conflict", message: "The draft changed since you opened it." });
    await user.click(screen.getByTestId("approve"));
    await user.click(screen.getByTestId("confirm-approve"));
    const alert = await screen.findByRole("alert");
    expect(alert.getAttribute("data-testid")).toBe("error");
    expect(alert.textContent).toContain("The draft changed since you opened it.");
    expect(alert.textContent).toContain("conflict");
    expect(screen.getByTestId("detail-status").textContent, "still pending after a refusal").toBe("pending");
    await user.click(within(alert).getByRole("button", { name: "Dismiss error" }));
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("does not offer Approve once the expiry has passed", async () => {
    shell.drafts.set(ID(8), detail({ id: ID(8), score: 99, level: "critical", expires_at: NOW - 1 }));
    const user = userEvent.setup();
    render(<App />);
    await waitFor(() => expect(rowIds()).toContain(ID(8)));
    await openDraft(user, ID(8));
    expect((screen.getByTestId("approve") as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByText(/expiry has passed/)).toBeTruthy();
  });

  it("opens the most urgent pending draft when nothing is open", async () => {
    await renderApp();
    const firstPending = screen
      .getAllByTestId("queue-item")
      .find((r) => r.getAttribute("data-status") === "pending")!;
    await waitFor(() =>
      expect(screen.getByTestId("detail").getAttribute("data-id")).toBe(firstPending.getAttribute("data-id")),
    );
  });

  it("says a draft could not be loaded instead of loading forever", async () => {
    shell.failures.set("get_action", { code: "not_found", message: "no such draft" });
    await renderApp();
    expect((await screen.findByTestId("error")).textContent).toContain("no such draft");
    expect(screen.getByText(/could not be loaded/)).toBeTruthy();
  });

  it("shows a failure to load the queue", async () => {
    shell.failures.set("list_actions", { code: "internal", message: "database is locked" });
    render(<App />);
    expect((await screen.findByTestId("error")).textContent).toContain("database is locked");
  });
});

describe("add agent", () => {
  it("validates the name, creates the agent and shows its token once", async () => {
    const user = await renderApp();
    await user.click(screen.getByTestId("add-agent"));
    await user.type(screen.getByTestId("agent-name"), "bad name!");
    await user.click(screen.getByTestId("create-agent"));
    expect(shell.callsOf("add_agent"), "an invalid name is not sent").toHaveLength(0);
    expect(screen.getByTestId("agent-name").getAttribute("aria-invalid")).toBe("true");
    await user.clear(screen.getByTestId("agent-name"));
    await user.type(screen.getByTestId("agent-name"), "forum-bot.v2");
    await user.click(screen.getByTestId("create-agent"));
    const token = await screen.findByTestId("agent-token");
    expect(shell.callsOf("add_agent").map((c) => c.args)).toEqual([{ name: "forum-bot.v2" }]);
    expect(token.textContent).toBe("cs_TESTTOKENabcdefghijklmnopqrstuvwxyz0123456");
    expect(screen.getByTestId("agent-snippet").textContent).toBe(
      "export COUNTERSIGN_TOKEN=cs_TESTTOKENabcdefghijklmnopqrstuvwxyz0123456",
    );
    expect(screen.getByText(/will not be shown again/)).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Done" }));
    expect(screen.queryByTestId("agent-token"), "closing drops the token").toBeNull();
  });

  it("shows why the agent could not be created", async () => {
    shell.failures.set("add_agent", { code: "conflict", message: "an agent named forum-bot exists" });
    const user = await renderApp();
    await user.click(screen.getByTestId("add-agent"));
    await user.type(screen.getByTestId("agent-name"), "forum-bot");
    await user.click(screen.getByTestId("create-agent"));
    expect((await screen.findByTestId("error")).textContent).toContain("an agent named forum-bot exists");
    expect(screen.queryByTestId("agent-token")).toBeNull();
  });
});

describe("editing before approving", () => {
  it("re-checks the edit in Rust, shows its risk, and approves exactly the edited action", async () => {
    const user = await renderApp();
    await openDraft(user, ID(1));
    await user.click(screen.getByTestId("edit"));
    const payload = screen.getByTestId("edit-payload") as HTMLTextAreaElement;
    await user.clear(payload);
    await user.click(payload);
    await user.paste(JSON.stringify({ channel: "eng-help", body: "Ask data-eng for access" }));
    await waitFor(() => expect(screen.getByTestId("edit-digest").textContent).toMatch(/^sha256:edited-/));
    expect(screen.getByTestId("risk-score").textContent, "the risk shown is the edit's").toMatch(/^12/);
    const previewed = shell.callsOf("preview_edit").at(-1)!.args;
    expect(previewed.id).toBe(ID(1));
    await user.click(screen.getByTestId("approve"));
    await waitFor(() => expect(screen.getByTestId("decision").textContent).toContain("approved"));
    expect(screen.queryByTestId("edit-panel"), "editing ends with the decision").toBeNull();
    expect(screen.getByRole("heading", { name: "Change" }), "the decided draft shows the agent's draft again").toBeTruthy();
    expect(shell.callsOf("approve"), "the plain approve is not used for an edit").toHaveLength(0);
    const sent = shell.callsOf("approve_edited").map((c) => c.args);
    expect(sent).toEqual([
      {
        id: ID(1),
        actionDigest: low.action_digest,
        action: { ...low.action, payload: { channel: "eng-help", body: "Ask data-eng for access" } },
      },
    ]);
  });

  it("edits a post's text as plain text; the JSON follows", async () => {
    const user = await renderApp();
    await openDraft(user, ID(1));
    await user.click(screen.getByTestId("edit"));
    const field = screen.getByTestId("edit-field") as HTMLTextAreaElement;
    expect(field.dataset.field).toBe("body");
    expect(field.value).toBe("Hi,\ngrant read to all-employees");
    await user.clear(field);
    await user.type(field, "Ask data-eng");
    expect(JSON.parse((screen.getByTestId("edit-payload") as HTMLTextAreaElement).value).body).toBe("Ask data-eng");
    await waitFor(() => expect(screen.getByTestId("edit-digest")).toBeTruthy());
    await user.click(screen.getByTestId("approve"));
    await waitFor(() => expect(shell.callsOf("approve_edited")).toHaveLength(1));
    expect((shell.callsOf("approve_edited")[0]!.args.action as { payload: { body: string; channel: string } }).payload).toEqual({
      ...(low.action.payload as object),
      body: "Ask data-eng",
    });
  });

  it("cannot approve an edit that is not JSON or that Rust refuses", async () => {
    const user = await renderApp();
    await openDraft(user, ID(1));
    await user.click(screen.getByTestId("edit"));
    const payload = screen.getByTestId("edit-payload") as HTMLTextAreaElement;
    await user.clear(payload);
    await user.type(payload, "not json");
    await waitFor(() => expect(screen.getByTestId("edit-error").textContent).toContain("not JSON"));
    expect((screen.getByTestId("approve") as HTMLButtonElement).disabled).toBe(true);
    await user.clear(payload);
    await user.click(payload);
    await user.paste('{"body": "INVALID"}');
    await waitFor(() => expect(screen.getByTestId("edit-error").textContent).toContain("invalid edit"));
    expect((screen.getByTestId("approve") as HTMLButtonElement).disabled).toBe(true);
  });

  it("asks to confirm when the edit itself scores critical", async () => {
    const user = await renderApp();
    await openDraft(user, ID(1));
    await user.click(screen.getByTestId("edit"));
    const payload = screen.getByTestId("edit-payload") as HTMLTextAreaElement;
    await user.clear(payload);
    await user.click(payload);
    await user.paste('{"channel": "eng-help", "body": "rm -rf /"}');
    await waitFor(() => expect(screen.getByTestId("risk-score").textContent).toMatch(/^92/));
    await user.click(screen.getByTestId("approve"));
    expect(shell.callsOf("approve_edited")).toHaveLength(0);
    await user.click(screen.getByTestId("confirm-approve"));
    await waitFor(() => expect(shell.callsOf("approve_edited")).toHaveLength(1));
  });
});

describe("keyboard decisions", () => {
  it("a approves a low-risk draft; on a high-risk one it only opens the confirmation", async () => {
    const user = await renderApp();
    await openDraft(user, ID(2));
    (document.activeElement as HTMLElement | null)?.blur();
    await user.keyboard("a");
    expect(screen.getByTestId("confirm-approve")).toBeTruthy();
    await user.keyboard("a");
    expect(shell.callsOf("approve"), "no key press approves a high-risk draft").toHaveLength(0);
    await openDraft(user, ID(1));
    (document.activeElement as HTMLElement | null)?.blur();
    await user.keyboard("a");
    await waitFor(() => expect(shell.callsOf("approve").map((c) => c.args.id)).toEqual([ID(1)]));
  });

  it("r opens the reason with the focus in it; the suggestion travels with the reason", async () => {
    const user = await renderApp();
    await openDraft(user, ID(2));
    (document.activeElement as HTMLElement | null)?.blur();
    await user.keyboard("r");
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId("reject-reason")));
    await user.keyboard("Not to everyone");
    await user.type(screen.getByTestId("reject-suggestion"), "Ask data-eng instead");
    await user.click(screen.getByTestId("confirm-reject"));
    await waitFor(() => expect(shell.callsOf("reject")).toHaveLength(1));
    expect(shell.callsOf("reject")[0]!.args.reason).toBe("Not to everyone\n\nSuggestion: Ask data-eng instead");
  });

  it("e opens the editor", async () => {
    const user = await renderApp();
    await openDraft(user, ID(1));
    (document.activeElement as HTMLElement | null)?.blur();
    await user.keyboard("e");
    await waitFor(() => expect(screen.getByTestId("edit-panel")).toBeTruthy());
  });
});

describe("queue search, filters and keys", () => {
  it("/ focuses the search; typing narrows the queue and j/k walk only what is shown", async () => {
    const user = await renderApp();
    (document.activeElement as HTMLElement | null)?.blur();
    await user.keyboard("/");
    expect(document.activeElement).toBe(screen.getByTestId("queue-search"));
    await user.keyboard("ops");
    await waitFor(() => expect(rowIds()).toEqual([ID(3)]));
    expect(screen.getByTestId("filter-note").textContent).toContain("1 of 5 shown");
    await user.keyboard("{Escape}");
    await waitFor(() => expect(rowIds()).toHaveLength(5));
  });

  it("filters by agent, level and status, and shows agent groups", async () => {
    const user = await renderApp();
    expect(screen.getAllByTestId("queue-group").map((g) => g.getAttribute("data-agent"))).toEqual([
      "ops-bot",
      "forum-bot",
      "mail-bot",
      "docs-bot",
    ]);
    await user.selectOptions(screen.getByTestId("filter-level"), "critical");
    await waitFor(() => expect(rowIds()).toEqual([ID(3), ID(4)]));
    await user.selectOptions(screen.getByTestId("filter-status"), "rejected");
    await waitFor(() => expect(rowIds()).toEqual([ID(4)]));
    await user.selectOptions(screen.getByTestId("filter-level"), "");
    await user.selectOptions(screen.getByTestId("filter-status"), "");
    await user.selectOptions(screen.getByTestId("filter-agent"), "mail-bot");
    await waitFor(() => expect(rowIds()).toEqual([ID(5)]));
  });

  it("p opens the policy view from the keyboard, the header button too, and a refusal shows a banner", async () => {
    const user = await renderApp();
    await waitFor(() => expect(screen.getByTestId("open-policy").textContent).toContain("serial 3"));
    (document.activeElement as HTMLElement | null)?.blur();
    await user.keyboard("p");
    expect(screen.getByTestId("policy-read-only").textContent).toContain("not pinned as a lead");
    await user.keyboard("{Escape}");
    expect(screen.queryByTestId("policy-view")).toBeNull();
    await user.click(screen.getByTestId("open-policy"));
    expect(screen.getByTestId("policy-view")).toBeTruthy();
    await user.keyboard("{Escape}");

    shell.policy = policyView({ refusal: { at: NOW, source: "/etc/policy.toml", message: "refusing policy: rollback" } });
    await act(() => emit("policy-changed", null));
    expect((await screen.findByTestId("policy-refused")).textContent).toContain("serial 3 stays in force");
  });

  it("? shows the shortcut sheet and Escape closes it", async () => {
    const user = await renderApp();
    (document.activeElement as HTMLElement | null)?.blur();
    await user.keyboard("?");
    const sheet = screen.getByTestId("shortcuts");
    for (const k of ["j / k", "Enter", "a", "r", "e", "x", "A", "/", "p", "?"]) expect(within(sheet).getByText(k)).toBeTruthy();
    await user.keyboard("{Escape}");
    expect(screen.queryByTestId("shortcuts")).toBeNull();
  });

  it("renders only a window of a 10,000-draft queue and keeps the cursor row in the DOM", async () => {
    const many = Array.from({ length: 10_000 }, (_, i) =>
      detail({ id: `10000000-0000-4000-8000-${String(i).padStart(12, "0")}`, score: i % 100, agent: `bot-${i % 5}`, created_at: NOW - i }),
    );
    shell = new FakeShell(...many);
    shell.install();
    const user = userEvent.setup();
    const started = performance.now();
    render(<App />);
    await waitFor(() => expect(screen.getAllByTestId("queue-item").length).toBeGreaterThan(0));
    const ms = performance.now() - started;
    const rendered = screen.getAllByTestId("queue-item").length;
    expect(rendered, "only about a screenful of rows is in the DOM").toBeLessThan(40);
    expect(screen.getByLabelText("10000 drafts")).toBeTruthy();
    console.info(`queue of 10,000 drafts rendered in ${ms.toFixed(0)} ms (jsdom, ${rendered} rows in the DOM)`);
    (document.activeElement as HTMLElement | null)?.blur();
    for (let i = 0; i < 30; i++) await user.keyboard("j");
    const cursor = document.querySelector(".queue-item.is-cursor");
    expect(cursor, "the cursor row is rendered after scrolling down").not.toBeNull();
    expect(document.activeElement).toBe(cursor);
  }, 30_000);
});

describe("history", () => {
  it("lists decided drafts with who decided, when and why, and opens them", async () => {
    const user = await renderApp();
    await user.click(screen.getByTestId("tab-history"));
    await waitFor(() => expect(screen.getAllByTestId("history-item").map((r) => r.getAttribute("data-id"))).toEqual([ID(4)]));
    expect(screen.getByTestId("history-who").textContent).toMatch(/^rejected by Ana · /);
    expect(screen.getByTestId("history-why").textContent).toBe("no");
    // A decision made meanwhile shows up (pushed event, no reload).
    await user.click(screen.getByTestId("tab-queue"));
    await openDraft(user, ID(1));
    await user.click(screen.getByTestId("approve"));
    await waitFor(() => expect(screen.getByTestId("detail-status").textContent).toBe("approved"));
    await user.click(screen.getByTestId("tab-history"));
    await waitFor(() => expect(screen.getAllByTestId("history-item")).toHaveLength(2));
    await user.click(screen.getAllByTestId("history-item").find((r) => r.getAttribute("data-id") === ID(4))!);
    await waitFor(() => expect(screen.getByTestId("detail").getAttribute("data-id")).toBe(ID(4)));
  });
});

describe("batch approval of low-risk drafts", () => {
  const lowSameTarget = detail({ id: ID(6), score: 5, level: "low", agent: "docs-bot", created_at: NOW - 40 });
  const lowOtherTarget = detail({ id: ID(7), score: 3, level: "low", agent: "docs-bot", target: "file:///srv/docs/README.md", created_at: NOW - 20 });
  const lowElsewhere = detail({ id: ID(8), score: 2, level: "low", agent: "mail-bot", target: "mail://team", created_at: NOW - 60 });

  beforeEach(() => {
    shell = new FakeShell(low, high, critical, medium, done, lowSameTarget, lowOtherTarget, lowElsewhere);
    shell.install();
  });

  const rowOf = (id: string) => screen.getAllByTestId("queue-item").find((r) => r.getAttribute("data-id") === id)!;

  it("x selects only low-risk pending drafts; A shows their count and targets before anything is signed", async () => {
    const user = userEvent.setup();
    render(<App />);
    await waitFor(() => expect(screen.getAllByTestId("queue-item")).toHaveLength(8));
    // Only the low-risk pending rows can be selected at all.
    expect(screen.getAllByTestId("queue-select").map((c) => c.getAttribute("data-id")).sort()).toEqual(
      [ID(1), ID(6), ID(7), ID(8)].sort(),
    );
    // x on a high-risk draft selects nothing.
    await user.click(rowOf(ID(2)));
    await user.keyboard("x");
    expect(screen.queryByTestId("batch-bar")).toBeNull();
    for (const id of [ID(1), ID(6), ID(7)]) {
      await user.click(rowOf(id));
      await user.keyboard("x");
    }
    expect(screen.getByTestId("selected-count").textContent).toBe("3");
    expect(rowOf(ID(6)).classList.contains("is-selected")).toBe(true);
    // x again unselects.
    await user.keyboard("x");
    expect(screen.getByTestId("selected-count").textContent).toBe("2");
    await user.keyboard("x");

    await user.keyboard("A");
    const sheet = await screen.findByTestId("batch-sheet");
    expect(within(sheet).getByTestId("batch-count").textContent).toBe("3");
    const targets = within(sheet)
      .getAllByTestId("batch-target")
      .map((t) => [t.textContent, t.getAttribute("data-count")]);
    expect(targets, "each target once, with how many drafts act on it, most first").toEqual([
      ["2 × forum://eng/thread/42", "2"],
      ["1 × file:///srv/docs/README.md", "1"],
    ]);
    expect(document.activeElement, "the focus starts on Cancel").toBe(within(sheet).getByTestId("batch-cancel"));
    expect(shell.callsOf("approve_batch"), "nothing is signed before the confirmation").toHaveLength(0);

    await user.click(within(sheet).getByTestId("batch-confirm"));
    await waitFor(() => expect(screen.queryByTestId("batch-sheet")).toBeNull());
    const [call] = shell.callsOf("approve_batch");
    const sent = [...(call!.args.drafts as { id: string; action_digest: string }[])].sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(sent, "each id goes with the digest the queue showed").toEqual(
      [low, lowSameTarget, lowOtherTarget].map((d) => ({ id: d.summary.id, action_digest: d.action_digest })).sort((a, b) => (a.id < b.id ? -1 : 1)),
    );
    await waitFor(() => expect(rowOf(ID(6)).getAttribute("data-status")).toBe("approved"));
    expect(rowOf(ID(8)).getAttribute("data-status"), "the unselected low draft still waits").toBe("pending");
    expect(screen.queryByTestId("batch-bar")).toBeNull();
  });

  it("approves an agent's low drafts from its group after the sheet; Cancel or Escape signs nothing", async () => {
    const user = userEvent.setup();
    render(<App />);
    await waitFor(() => expect(screen.getAllByTestId("queue-item")).toHaveLength(8));
    const group = screen.getAllByTestId("queue-group").find((g) => g.getAttribute("data-agent") === "docs-bot")!;
    await user.click(within(group).getByTestId("approve-agent-low"));
    let sheet = await screen.findByTestId("batch-sheet");
    expect(within(sheet).getByTestId("batch-count").textContent).toBe("3");
    await user.keyboard("{Escape}");
    expect(screen.queryByTestId("batch-sheet")).toBeNull();
    await user.click(screen.getByTestId("batch-approve"));
    sheet = await screen.findByTestId("batch-sheet");
    await user.click(within(sheet).getByTestId("batch-cancel"));
    expect(shell.callsOf("approve_batch")).toHaveLength(0);
    // The mail-bot group's button takes only mail-bot's low draft.
    const mail = screen.getAllByTestId("queue-group").find((g) => g.getAttribute("data-agent") === "mail-bot")!;
    await user.click(within(mail).getByTestId("approve-agent-low"));
    sheet = await screen.findByTestId("batch-sheet");
    expect(within(sheet).getByTestId("batch-count").textContent).toBe("1");
    await user.click(within(sheet).getByTestId("batch-confirm"));
    await waitFor(() => expect(shell.callsOf("approve_batch")).toHaveLength(1));
    expect(shell.callsOf("approve_batch")[0]!.args.drafts).toEqual([{ id: ID(8), action_digest: lowElsewhere.action_digest }]);
  });

  it("reports the drafts Rust refused and shows them still pending", async () => {
    const user = userEvent.setup();
    render(<App />);
    await waitFor(() => expect(screen.getAllByTestId("queue-item")).toHaveLength(8));
    await user.click(screen.getAllByTestId("queue-select").find((c) => c.getAttribute("data-id") === ID(6))!);
    await user.click(screen.getAllByTestId("queue-select").find((c) => c.getAttribute("data-id") === ID(7))!);
    // Meanwhile the draft changed in the store: the digest the queue showed is no longer its digest.
    shell.drafts.set(ID(7), { ...lowOtherTarget, action_digest: "sha256:changed" });
    await user.click(screen.getByTestId("batch-approve"));
    await user.click(within(await screen.findByTestId("batch-sheet")).getByTestId("batch-confirm"));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("1 approved; 1 not approved");
    expect(alert.textContent).toContain(ID(7));
    await waitFor(() => expect(rowOf(ID(6)).getAttribute("data-status")).toBe("approved"));
    expect(rowOf(ID(7)).getAttribute("data-status")).toBe("pending");
  });
});

describe("keys faster than renders", () => {
  it("counts every j pressed before the queue re-renders", async () => {
    await renderApp();
    await waitFor(() => expect(document.querySelector(".queue-item.is-cursor")).not.toBeNull());
    const order = rowIds();
    const from = order.indexOf(document.querySelector(".queue-item.is-cursor")!.getAttribute("data-id"));
    (document.activeElement as HTMLElement | null)?.blur();
    // Three presses dispatched in one go: no render happens between them.
    act(() => {
      for (let i = 0; i < 3; i++) window.dispatchEvent(new KeyboardEvent("keydown", { key: "j", bubbles: true }));
    });
    await waitFor(() =>
      expect(document.querySelector(".queue-item.is-cursor")!.getAttribute("data-id")).toBe(order[from + 3]),
    );
  });
});
