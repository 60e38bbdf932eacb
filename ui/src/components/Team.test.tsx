import { emit } from "@tauri-apps/api/event";
import { mockIPC } from "@tauri-apps/api/mocks";
import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { ApiError } from "../bindings/ApiError";
import type { SignOutcome } from "../bindings/SignOutcome";
import type { TeamDraft } from "../bindings/TeamDraft";
import type { TeamDraftDetail } from "../bindings/TeamDraftDetail";
import type { TeamEvent } from "../bindings/TeamEvent";
import type { TeamLink } from "../bindings/TeamLink";
import { TEAM_EVENT, TEAM_STATUS } from "../lib/api";
import { detail, NOW } from "../test/fixtures";
import { TeamView } from "./TeamView";

const ID = (n: number) => `00000000-0000-4000-8000-0000000000${String(n).padStart(2, "0")}`;

const LINK: TeamLink = {
  server: "https://team.example:8443",
  team: "payments",
  approver: "ana",
  keyid: "sha256:aa",
  role: "approver",
  expires_at: NOW + 3600,
  roster_serial: 3,
  lead_trust: "/etc/countersign/lead-trust.json",
  ca_cert: null,
  connection: "live",
  error: null,
  retry_in_s: null,
  version: 5,
};

function teamDetail(n: number, over: Partial<TeamDraft> = {}, score = 30): TeamDraftDetail {
  const d = detail({ id: ID(n), score, level: score >= 60 ? "high" : "medium", agent: `bot-${n}` });
  return {
    draft: {
      summary: d.summary,
      requirement: "two_approvers",
      required: { approvals: 2, lead: false },
      signers: [],
      escalated: false,
      ...over,
    },
    detail: d,
    now: NOW,
  };
}

type Call = { cmd: string; args: Record<string, unknown> };

/** A stand-in for the shell's team commands over a fixed set of drafts. */
function shell(opts: { link: TeamLink | null; drafts: TeamDraftDetail[]; joinError?: ApiError; liveBeforeJoinAnswers?: boolean }) {
  const calls: Call[] = [];
  const drafts = new Map(opts.drafts.map((d) => [d.draft.summary.id, d]));
  let link = opts.link;
  mockIPC(
    (cmd, raw) => {
      const args = (raw ?? {}) as Record<string, unknown>;
      calls.push({ cmd, args });
      switch (cmd) {
        case "team_status":
          return link;
        case "team_join":
          if (opts.joinError) throw opts.joinError;
          link = { ...LINK, server: args.server as string, connection: "connecting", version: 10 };
          if (opts.liveBeforeJoinAnswers) {
            // The stream goes live before the join's own answer reaches the window.
            const live = { ...link, connection: "live" as const, version: 11 };
            void emit(TEAM_STATUS, live);
            const answer = link;
            link = live;
            return answer;
          }
          return link;
        case "team_leave":
          link = null;
          return null;
        case "team_drafts":
          return [...drafts.values()].map((d) => d.draft);
        case "team_draft": {
          const d = drafts.get(args.id as string);
          if (!d) throw { code: "not_found", message: "no such draft" } satisfies ApiError;
          return d;
        }
        case "team_claim": {
          const d = drafts.get(args.id as string)!;
          const claim = { approver: "ana", keyid: "sha256:aa", until: NOW + 900 };
          drafts.set(d.draft.summary.id, { ...d, draft: { ...d.draft, claim } });
          return claim;
        }
        case "team_approve": {
          const d = drafts.get(args.id as string)!;
          if (args.actionDigest !== d.detail.action_digest) throw { code: "conflict", message: "changed" } satisfies ApiError;
          drafts.set(d.draft.summary.id, { ...d, draft: { ...d.draft, signers: ["ana"] } });
          return { outcome: "awaiting", signers: ["ana"], missing: "one more approver" } satisfies SignOutcome;
        }
        case "team_reject":
          drafts.delete(args.id as string);
          return {
            outcome: "rejected",
            envelope: { payload: "e30=", payloadType: "x", signatures: [] },
          } satisfies SignOutcome;
      }
      throw new Error(`unexpected command ${cmd}`);
    },
    { shouldMockEvents: true },
  );
  return { calls, of: (cmd: string) => calls.filter((c) => c.cmd === cmd) };
}

function view() {
  const failures: unknown[] = [];
  render(<TeamView tabs={<div />} now={NOW} fail={(e) => failures.push(e)} />);
  return failures;
}

describe("Team view", () => {
  it("joins a team from the form, with the lead trust file required", async () => {
    const s = shell({ link: null, drafts: [teamDetail(1)] });
    view();
    const user = userEvent.setup();
    await user.type(await screen.findByTestId("team-server"), "https://team.example:8443");
    await user.click(screen.getByTestId("team-join-submit"));
    expect(screen.getByText(/lead trust file are required/)).toBeTruthy();
    expect(s.of("team_join")).toHaveLength(0);
    await user.type(screen.getByTestId("team-lead-trust"), "/etc/countersign/lead-trust.json");
    await user.click(screen.getByTestId("team-join-submit"));
    await waitFor(() => expect(screen.getByTestId("team-name").textContent).toBe("payments"));
    expect(s.of("team_join")[0]!.args).toEqual({
      server: "https://team.example:8443",
      leadTrust: "/etc/countersign/lead-trust.json",
      caCert: null,
    });
    expect(await screen.findAllByTestId("team-item")).toHaveLength(1);
  });

  it("keeps the live state when the join's older answer arrives after it", async () => {
    shell({ link: null, drafts: [teamDetail(1)], liveBeforeJoinAnswers: true });
    view();
    const user = userEvent.setup();
    await user.type(await screen.findByTestId("team-server"), "https://team.example:8443");
    await user.type(screen.getByTestId("team-lead-trust"), "/etc/countersign/lead-trust.json");
    await user.click(screen.getByTestId("team-join-submit"));
    await waitFor(() => expect(screen.getByTestId("team-name").textContent).toBe("payments"));
    expect(screen.getByTestId("team-connection").dataset.state, "version 11 (live) beats version 10 (connecting)").toBe("live");
  });

  it("shows why a join failed under the form", async () => {
    shell({
      link: null,
      drafts: [],
      joinError: { code: "forbidden", message: "the server's roster does not verify against /x: roster signature: bad" },
    });
    view();
    const user = userEvent.setup();
    await user.type(await screen.findByTestId("team-server"), "https://team.example");
    await user.type(screen.getByTestId("team-lead-trust"), "/x");
    await user.click(screen.getByTestId("team-join-submit"));
    expect((await screen.findByTestId("team-join-error")).textContent).toMatch(/does not verify/);
  });

  it("asks to log in again, prefilled, when the session ended", async () => {
    shell({ link: { ...LINK, connection: "expired", error: "the team session has ended" }, drafts: [] });
    view();
    expect(await screen.findByTestId("team-expired")).toBeTruthy();
    expect((screen.getByTestId("team-server") as HTMLInputElement).value).toBe(LINK.server);
    expect((screen.getByTestId("team-lead-trust") as HTMLInputElement).value).toBe(LINK.lead_trust);
    expect(screen.getByTestId("team-join-submit").textContent).toBe("Log in again");
  });

  it("lists the team's drafts live with requirement, signers and who reviews them", async () => {
    const claimed = teamDetail(1, { signers: ["bo"], claim: { approver: "bo", keyid: "k", until: NOW + 60 } });
    shell({ link: LINK, drafts: [claimed] });
    view();
    const row = await screen.findByTestId("team-item");
    expect(row.textContent).toMatch(/needs two approvers/);
    expect(row.textContent).toMatch(/signed: bo/);
    expect(row.textContent).toMatch(/in review by bo/);
    expect(screen.getByTestId("team-connection").dataset.state).toBe("live");

    // A new draft arrives on the stream, riskier: listed first, without a reload.
    const risky = teamDetail(2, {}, 75);
    await act(() => emit(TEAM_EVENT, { type: "pending", draft: risky.draft, notify: true } satisfies TeamEvent));
    await waitFor(() => expect(screen.getAllByTestId("team-item")).toHaveLength(2));
    expect(screen.getAllByTestId("team-item")[0]!.dataset.id).toBe(ID(2));
    await act(() => emit(TEAM_EVENT, { type: "decided", id: ID(1), status: "approved" } satisfies TeamEvent));
    await waitFor(() => expect(screen.getAllByTestId("team-item")).toHaveLength(1));

    await act(() => emit(TEAM_STATUS, { ...LINK, connection: "retrying", retry_in_s: 8, error: "cannot reach", version: 6 }));
    expect(screen.getByTestId("team-connection").textContent).toMatch(/retrying in 8 s/);
    expect(screen.getByTestId("team-link-error").textContent).toMatch(/cannot reach/);
  });

  it("opens a draft with the same diff, impact and risk panels and approves it as shown", async () => {
    const s = shell({ link: LINK, drafts: [teamDetail(1)] });
    view();
    const panel = await screen.findByTestId("team-detail");
    expect(within(panel).getByTestId("impact")).toBeTruthy();
    expect(within(panel).getByTestId("risk-score").textContent).toMatch(/30/);
    expect(within(panel).getByText("all-employees", { selector: ".diff-emph, .diff-emph *" })).toBeTruthy();
    expect(within(panel).getByTestId("team-needs").textContent).toMatch(/two approvers · 2 signatures/);

    const user = userEvent.setup();
    await user.click(within(panel).getByTestId("team-claim-button"));
    await waitFor(() => expect(within(screen.getByTestId("team-detail")).getByTestId("team-claim").textContent).toMatch(/by you/));

    await user.click(within(screen.getByTestId("team-detail")).getByTestId("approve"));
    await waitFor(() => expect(s.of("team_approve")).toHaveLength(1));
    expect(s.of("team_approve")[0]!.args).toEqual({ id: ID(1), actionDigest: teamDetail(1).detail.action_digest });
    expect((await screen.findByTestId("team-outcome")).textContent).toMatch(/awaiting more signatures: one more approver/);
    await waitFor(() => expect(screen.getByTestId("team-signed-by-me")).toBeTruthy());
    expect((screen.getByTestId("approve") as HTMLButtonElement).disabled).toBe(true);
  });

  it("rejects with a reason from the keyboard: r opens the reason, the agent gets it", async () => {
    const s = shell({ link: LINK, drafts: [teamDetail(1)] });
    view();
    await screen.findByTestId("team-detail");
    const user = userEvent.setup();
    await user.keyboard("r");
    const reason = await screen.findByTestId("reject-reason");
    await user.type(reason, "not during the freeze");
    await user.click(screen.getByTestId("confirm-reject"));
    await waitFor(() => expect(s.of("team_reject")).toHaveLength(1));
    expect(s.of("team_reject")[0]!.args).toMatchObject({ id: ID(1), reason: "not during the freeze" });
    expect((await screen.findByTestId("team-outcome")).textContent).toMatch(/Rejected/);
    expect(screen.queryByTestId("approve")).toBeNull();
  });
});
