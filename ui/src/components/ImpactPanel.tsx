import type { ReactNode } from "react";
import type { ImpactItem } from "../bindings/ImpactItem";
import { SafeText } from "./SafeText";

/** Kinds of item that come as lists (a script's commands, a message's recipients), by label. */
const LISTS: Record<string, [string, string]> = {
  Command: ["command", "commands"],
  Recipient: ["recipient", "recipients"],
};

/** The list an item belongs to: its label without a trailing number (`Command 2` → `Command`). */
export function listOf(label: string): string | undefined {
  const kind = label.replace(/\s+\d+$/, "");
  return kind in LISTS ? kind : undefined;
}

/** The heading of a run of `items` of one list, e.g. `4 commands · 2 flagged`. */
export function listHeading(kind: string, items: ImpactItem[]): string {
  const [one, many] = LISTS[kind] ?? [kind, kind];
  const flagged = items.filter((i) => i.flagged).length;
  const count = `${items.length} ${items.length === 1 ? one : many}`;
  return flagged > 0 ? `${count} · ${flagged} flagged` : count;
}

function Item({ it }: { it: ImpactItem }) {
  return (
    <li
      className={it.flagged ? "impact-item flagged" : "impact-item"}
      data-flagged={it.flagged ? "true" : undefined}
      data-pointer={it.pointer}
    >
      {it.flagged && (
        <span className="warn-marker" role="img" aria-label="flagged">
          ⚠
        </span>
      )}
      <span className="impact-label">
        <SafeText text={it.label} inline />
      </span>
      <span className="impact-value">
        <SafeText text={it.value} inline />
      </span>
      {it.note && (
        <span className="impact-note" data-testid="impact-note">
          <SafeText text={it.note} inline />
        </span>
      )}
    </li>
  );
}

/**
 * Who or what the action affects; flagged items carry a warning marker, not colour alone. A run
 * of two or more commands or recipients gets a heading with its count and how many are flagged,
 * so a long list reads at a glance; a command's place in its script is a quieter second line.
 */
export function ImpactPanel({ items }: { items: ImpactItem[] }) {
  // Consecutive items of one list form a run; every other item is a run of its own.
  const runs: { kind?: string; items: ImpactItem[]; start: number }[] = [];
  items.forEach((it, i) => {
    const kind = listOf(it.label);
    const last = runs[runs.length - 1];
    if (kind && last?.kind === kind) last.items.push(it);
    else runs.push({ kind, items: [it], start: i });
  });
  const rows: ReactNode[] = runs.flatMap((run) => [
    ...(run.kind && run.items.length > 1
      ? [
          <li key={`h${run.start}`} className="impact-group" data-testid="impact-group">
            {listHeading(run.kind, run.items)}
          </li>,
        ]
      : []),
    ...run.items.map((it, j) => <Item key={run.start + j} it={it} />),
  ]);
  return (
    <section className="panel impact" data-testid="impact" aria-labelledby="impact-h">
      <h3 id="impact-h">Impact</h3>
      {items.length === 0 ? <p className="empty">No impact reported.</p> : <ul className="impact-list">{rows}</ul>}
    </section>
  );
}
