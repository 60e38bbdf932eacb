import { describe, expect, it } from "vitest";
import type { TeamDraft } from "../bindings/TeamDraft";
import type { TeamLink } from "../bindings/TeamLink";
import { summary } from "../test/fixtures";
import { applyTeamEvent, connectionText, orderTeam } from "./team";

const ID = (n: number) => `00000000-0000-4000-8000-0000000000${String(n).padStart(2, "0")}`;

function teamDraft(n: number, score = 30, over: Partial<TeamDraft> = {}): TeamDraft {
  return {
    summary: summary({ id: ID(n), score, created_at: 1000 + n }),
    requirement: "one_approver",
    required: { approvals: 1, lead: false },
    signers: [],
    escalated: false,
    ...over,
  };
}

describe("the team queue applied from the stream", () => {
  it("starts from a snapshot, adds and updates pending drafts, and drops decided ones", () => {
    expect(applyTeamEvent(null, { type: "pending", draft: teamDraft(1), notify: true })).toBeNull();
    let list = applyTeamEvent(null, { type: "snapshot", drafts: [teamDraft(1)] });
    list = applyTeamEvent(list, { type: "pending", draft: teamDraft(2), notify: true });
    expect(list!.map((d) => d.summary.id)).toEqual([ID(1), ID(2)]);
    const claimed = teamDraft(1, 30, { claim: { approver: "bo", keyid: "k", until: 9 } });
    list = applyTeamEvent(list, { type: "pending", draft: claimed, notify: false });
    expect(list!.length).toBe(2);
    expect(list![0]!.claim?.approver).toBe("bo");
    list = applyTeamEvent(list, { type: "decided", id: ID(1), status: "approved" });
    expect(list!.map((d) => d.summary.id)).toEqual([ID(2)]);
    list = applyTeamEvent(list, { type: "snapshot", drafts: [] });
    expect(list).toEqual([]);
  });

  it("orders the riskiest first, then the oldest", () => {
    const ordered = orderTeam([teamDraft(3, 10), teamDraft(2, 80), teamDraft(1, 10)]);
    expect(ordered.map((d) => d.summary.id)).toEqual([ID(2), ID(1), ID(3)]);
  });

  it("says how the link stands", () => {
    const link = { connection: "retrying", retry_in_s: 4 } as TeamLink;
    expect(connectionText(link)).toBe("offline, retrying in 4 s");
    expect(connectionText({ ...link, connection: "expired" })).toMatch(/log in again/);
  });
});
