import type { ActionDetail } from "../bindings/ActionDetail";
import type { ActionSummary } from "../bindings/ActionSummary";
import type { DecisionInfo } from "../bindings/DecisionInfo";
import type { PolicyView } from "../bindings/PolicyView";
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

/** A policy view: serial 3, lead from 75, one kind override; read-only unless `editable`. */
export function policyView(over: Partial<PolicyView> = {}): PolicyView {
  const thresholds = { auto_approve_below: 10, lead_required_from: 75, blocked_from: 95 };
  return {
    in_force: {
      policy: {
        serial: 3,
        org_domains: ["example.com"],
        sensitive: ["*user_data*"],
        thresholds,
        kinds: { "shell.exec": { lead_required_from: 50 } },
        agents: {},
      },
      text: 'serial = 3\norg_domains = ["example.com"]\n[thresholds]\nlead_required_from = 75\n',
      sha256: "sha256:4d1c0e8a5f1b7b3c2a9e6f0d8c7b6a5948372615aa00bb11cc22dd33ee44ff55",
      signers: ["sha256:9f86d081884c7d659a2feaa0c55ad015"],
      signer_names: ["Lea Lead"],
      bands: [
        { requirement: "auto_approve", from: 0, to: 9 },
        { requirement: "one_approver", from: 10, to: 74 },
        { requirement: "lead_required", from: 75, to: 94 },
        { requirement: "blocked", from: 95, to: 100 },
      ],
      overrides: [
        {
          scope: "kind",
          name: "shell.exec",
          set: { lead_required_from: 50 },
          bands: [
            { requirement: "auto_approve", from: 0, to: 9 },
            { requirement: "one_approver", from: 10, to: 49 },
            { requirement: "lead_required", from: 50, to: 94 },
            { requirement: "blocked", from: 95, to: 100 },
          ],
        },
      ],
    },
    editable: false,
    read_only_reason: "Read-only: your key sha256:9f86… is not pinned as a lead in /etc/countersign/lead.json.",
    path: "/etc/countersign/policy.toml",
    ...over,
  };
}
