import type { ActionKind } from "../bindings/ActionKind";
import type { ActionSummary } from "../bindings/ActionSummary";
import type { RiskLevel } from "../bindings/RiskLevel";
import type { Status } from "../bindings/Status";

/** The queue as shown: what waits for a human, then what is done. */
export type Sections = { pending: ActionSummary[]; decided: ActionSummary[] };

/** Riskiest first; ties oldest first (they have waited longest and expire soonest). */
const byRiskThenAge = (a: ActionSummary, b: ActionSummary) =>
  b.score - a.score || a.created_at - b.created_at || a.id.localeCompare(b.id);

/**
 * Pending drafts grouped by agent: the group holding the riskiest (then oldest) draft first,
 * inside a group by risk then age. Decided ones (approved, rejected, expired) newest first.
 */
export function sections(actions: readonly ActionSummary[]): Sections {
  const pendingSorted = actions.filter((a) => a.status === "pending").sort(byRiskThenAge);
  // Groups keep the order of their first (riskiest) member.
  const groups = new Map<string, ActionSummary[]>();
  for (const a of pendingSorted) {
    const g = groups.get(a.agent);
    if (g) g.push(a);
    else groups.set(a.agent, [a]);
  }
  const pending = [...groups.values()].flat();
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

/** What the queue is narrowed to; `""` means any. */
export type Filters = {
  agent: string;
  kind: ActionKind | "";
  level: RiskLevel | "";
  status: Status | "";
  /** Case-insensitive text in the agent, kind, target, summary or id. */
  text: string;
};

export const NO_FILTERS: Filters = { agent: "", kind: "", level: "", status: "", text: "" };

export function isFiltered(f: Filters): boolean {
  return f.agent !== "" || f.kind !== "" || f.level !== "" || f.status !== "" || f.text.trim() !== "";
}

/** The drafts that pass every filter. */
export function filterActions(actions: readonly ActionSummary[], f: Filters): ActionSummary[] {
  const needle = f.text.trim().toLowerCase();
  return actions.filter(
    (a) =>
      (f.agent === "" || a.agent === f.agent) &&
      (f.kind === "" || a.kind === f.kind) &&
      (f.level === "" || a.level === f.level) &&
      (f.status === "" || a.status === f.status) &&
      (needle === "" ||
        [a.agent, a.kind, a.target, a.summary, a.id].some((s) => s.toLowerCase().includes(needle))),
  );
}

/** One line of the rendered queue: a section heading, an agent group heading, or a draft. */
export type QueueItem =
  | { type: "section"; key: string; label: string; count: number }
  | { type: "group"; key: string; agent: string; count: number; top: RiskLevel; /** pending low-risk drafts */ low: number }
  | { type: "empty"; key: string; label: string }
  | { type: "row"; key: string; action: ActionSummary };

/** The queue as a flat list of lines, in display order (what the virtual list renders). */
export function queueItems(actions: readonly ActionSummary[]): QueueItem[] {
  const { pending, decided } = sections(actions);
  const items: QueueItem[] = [{ type: "section", key: "s:pending", label: "Pending", count: pending.length }];
  if (pending.length === 0) items.push({ type: "empty", key: "e:pending", label: "No pending drafts" });
  let i = 0;
  while (i < pending.length) {
    const agent = pending[i]!.agent;
    let j = i;
    while (j < pending.length && pending[j]!.agent === agent) j++;
    const members = pending.slice(i, j);
    const low = members.filter((a) => a.level === "low").length;
    items.push({ type: "group", key: `g:${agent}`, agent, count: j - i, top: pending[i]!.level, low });
    for (const a of members) items.push({ type: "row", key: a.id, action: a });
    i = j;
  }
  if (decided.length > 0) {
    items.push({ type: "section", key: "s:decided", label: "Decided", count: decided.length });
    for (const a of decided) items.push({ type: "row", key: a.id, action: a });
  }
  return items;
}

/** Heights of the lines, in pixels (fixed, so the virtual list can place any line directly). */
export const ITEM_HEIGHT = { section: 34, group: 26, row: 76, empty: 36 } as const;

/** Top offset of every line and the total height. */
export function layout(items: readonly QueueItem[]): { offsets: number[]; total: number } {
  const offsets: number[] = [];
  let y = 0;
  for (const it of items) {
    offsets.push(y);
    y += ITEM_HEIGHT[it.type];
  }
  return { offsets, total: y };
}

/** Indexes `[start, end)` of the lines visible in `[scrollTop, scrollTop + height)`, plus `overscan` lines each side. */
export function visibleRange(
  offsets: readonly number[],
  total: number,
  scrollTop: number,
  height: number,
  overscan = 8,
): [number, number] {
  const n = offsets.length;
  if (n === 0) return [0, 0];
  // Binary search: the last line starting at or before scrollTop.
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= scrollTop) lo = mid;
    else hi = mid - 1;
  }
  let end = lo;
  const bottom = Math.min(total, scrollTop + height);
  while (end < n && offsets[end]! < bottom) end++;
  return [Math.max(0, lo - overscan), Math.min(n, Math.max(end, lo + 1) + overscan)];
}
