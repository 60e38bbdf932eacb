import type { ActionDetail } from "../bindings/ActionDetail";
import type { ActionSummary } from "../bindings/ActionSummary";
import type { DecisionInfo } from "../bindings/DecisionInfo";
import type { TextDiff } from "../bindings/TextDiff";

export const NOW = Math.floor(Date.now() / 1000);

export function summary(over: Partial<ActionSummary> = {}): ActionSummary {
  const id = over.id ?? "00000000-0000-4000-8000-000000000001";
  return {
    id,
    action_digest: `sha256:${"ab".repeat(31)}${id.slice(-2)}`,
    agent: "forum-bot",
    kind: "message.post",
    target: "forum://eng/thread/42",
    summary: "Reply with access advice",
    status: "pending",
    score: 30,
    level: "medium",
    created_at: NOW - 120,
    expires_at: NOW + 600,
    ...over,
  };
}

/** Old "grant read to your team" → new "grant read to all-employees", with word emphasis. */
export const postDiff: TextDiff = {
  added: 1,
  removed: 1,
  hunks: [
    {
      header: "@@ -1,2 +1,2 @@",
      lines: [
        { tag: "context", old_line: 1, new_line: 1, segments: [{ text: "Hi,", emphasized: false }] },
        {
          tag: "removed",
          old_line: 2,
          new_line: null,
          segments: [
            { text: "grant read to ", emphasized: false },
            { text: "your team", emphasized: true },
          ],
        },
        {
          tag: "added",
          old_line: null,
          new_line: 2,
          segments: [
            { text: "grant read to ", emphasized: false },
            { text: "all-employees", emphasized: true },
          ],
        },
      ],
    },
  ],
};

export function detail(over: Partial<ActionSummary> = {}, extra: Partial<ActionDetail> = {}): ActionDetail {
  const s = summary(over);
  return {
    summary: s,
    action: {
      kind: s.kind,
      target: s.target,
      summary: s.summary,
      payload: { channel: "eng-help", audience: "all-employees", body: "Hi,\ngrant read to all-employees" },
      before: "Hi,\ngrant read to your team",
    },
    action_digest: s.action_digest,
    risk: {
      score: s.score,
      level: s.level,
      factors: [
        { id: "content.advises_broad_access", points: 30, reason: "advises giving access to `all-employees`", pointer: "/payload/body" },
        { id: "audience.broad", points: 15, reason: "visible to `all-employees`", pointer: "/payload/audience" },
      ],
    },
    review: {
      change: { type: "text", label: "edited post in eng-help", diff: postDiff, before_known: true },
      impact: [
        { label: "Channel", value: "eng-help", flagged: false },
        { label: "Audience", value: "all-employees", flagged: true },
      ],
    },
    callback_url: null,
    decision: null,
    ...extra,
  };
}

export function decision(over: Partial<DecisionInfo> = {}): DecisionInfo {
  return {
    verdict: "approved",
    reason: null,
    approver: "Ana",
    keyid: "sha256:0123456789abcdef",
    decided_at: NOW,
    envelope: { payload: "e30=", payloadType: "application/vnd.countersign.decision.v1+json", signatures: [{ keyid: "k", sig: "s" }] },
    ...over,
  };
}
