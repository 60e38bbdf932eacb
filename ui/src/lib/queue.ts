import type { ActionSummary } from "../bindings/ActionSummary";

/** The queue as shown: what waits for a human, then what is done. */
export type Sections = { pending: ActionSummary[]; decided: ActionSummary[] };

/**
 * Pending drafts by risk score (highest first), ties oldest first (they have waited longest
 * and expire soonest); decided ones (approved, rejected, expired) newest first.
 */
export function sections(actions: readonly ActionSummary[]): Sections {
  const pending = actions
    .filter((a) => a.status === "pending")
    .sort((a, b) => b.score - a.score || a.created_at - b.created_at || a.id.localeCompare(b.id));
  const decided = actions
    .filter((a) => a.status !== "pending")
    .sort((a, b) => b.created_at - a.created_at || a.id.localeCompare(b.id));
  return { pending, decided };
}

/** Queue order flattened, as j/k walk it. */
export function ordered(actions: readonly ActionSummary[]): ActionSummary[] {
  const s = sections(actions);
  return [...s.pending, ...s.decided];
}
