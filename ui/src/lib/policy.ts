/** Display helpers for the policy view. The bands themselves are computed in Rust. */
import type { Band } from "../bindings/Band";
import type { Requirement } from "../bindings/Requirement";
import type { Thresholds } from "../bindings/Thresholds";

/** What each requirement means for a draft, in one line. */
export const REQUIREMENT_MEANING: Record<Requirement, string> = {
  auto_approve: "approved by the policy itself, with a signed decision naming it; nobody is asked",
  one_approver: "waits for any one approver",
  two_approvers: "waits for two distinct approvers: one approves, a second co-signs the same decision",
  lead_required: "waits for an approver whose key is pinned as a lead",
  blocked: "refused by the policy, with a signed rejection naming it",
};

/** Human name of a requirement. */
export const REQUIREMENT_LABEL: Record<Requirement, string> = {
  auto_approve: "Auto-approve",
  one_approver: "One approver",
  two_approvers: "Two approvers",
  lead_required: "Lead required",
  blocked: "Blocked",
};

/** `0–24`, or `100` for a one-score band. */
export function bandRange(b: Band): string {
  return b.from === b.to ? `${b.from}` : `${b.from}–${b.to}`;
}

/** The fields a threshold table sets, e.g. `lead_required_from = 50`; `—` when none. */
export function thresholdFields(t: Thresholds): string {
  const parts: string[] = [];
  if (t.auto_approve_below !== undefined) parts.push(`auto_approve_below = ${t.auto_approve_below}`);
  if (t.two_approvers_from !== undefined) parts.push(`two_approvers_from = ${t.two_approvers_from}`);
  if (t.lead_required_from !== undefined) parts.push(`lead_required_from = ${t.lead_required_from}`);
  if (t.blocked_from !== undefined) parts.push(`blocked_from = ${t.blocked_from}`);
  return parts.length > 0 ? parts.join(", ") : "—";
}

/**
 * The text to start an edit from: the policy in force with its `serial` raised by one (a signed
 * change needs a higher serial). Text without a top-level `serial = N` line is left as it is.
 */
export function withNextSerial(text: string): string {
  return text.replace(/^(\s*serial\s*=\s*)(\d+)/m, (_, lead: string, n: string) => `${lead}${Number(n) + 1}`);
}
