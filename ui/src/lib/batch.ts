import type { ActionSummary } from "../bindings/ActionSummary";
import type { BatchDraft } from "../bindings/BatchDraft";

/** Most drafts one batch approval may carry (Rust refuses more: `countersign_broker::MAX_BATCH`). */
export const BATCH_MAX = 1000;

/**
 * Whether a queue row may be selected for a batch approval: pending and at the lowest risk
 * level. Rust checks it again for every draft before signing; this only keeps the UI honest.
 */
export const isBatchable = (a: ActionSummary): boolean => a.status === "pending" && a.level === "low";

/** A target of a batch and how many of its drafts act on it. */
export type TargetCount = { target: string; count: number };

/** The union of the drafts' targets, each once with its count; most drafts first, then by name. */
export function targetUnion(drafts: readonly ActionSummary[]): TargetCount[] {
  const counts = new Map<string, number>();
  for (const d of drafts) counts.set(d.target, (counts.get(d.target) ?? 0) + 1);
  return [...counts.entries()]
    .map(([target, count]) => ({ target, count }))
    .sort((a, b) => b.count - a.count || (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
}

/** What the window sends for each draft: its id and the digest the queue showed. */
export const asBatch = (drafts: readonly ActionSummary[]): BatchDraft[] =>
  drafts.map((d) => ({ id: d.id, action_digest: d.action_digest }));
