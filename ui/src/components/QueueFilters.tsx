import { useMemo, type Ref } from "react";
import type { ActionKind } from "../bindings/ActionKind";
import type { ActionSummary } from "../bindings/ActionSummary";
import type { RiskLevel } from "../bindings/RiskLevel";
import type { Status } from "../bindings/Status";
import { isFiltered, NO_FILTERS, type Filters } from "../lib/queue";

const KINDS: ActionKind[] = ["message.post", "shell.exec", "file.write", "acl.change", "http.request", "tool.call"];
const LEVELS: RiskLevel[] = ["critical", "high", "medium", "low"];
const STATUSES: Status[] = ["pending", "approved", "rejected", "expired"];

export type QueueFiltersProps = {
  all: readonly ActionSummary[];
  shown: number;
  filters: Filters;
  onChange: (f: Filters) => void;
  searchRef?: Ref<HTMLInputElement>;
};

/** Text search and the agent / kind / level / status filters above the queue. */
export function QueueFilters({ all, shown, filters, onChange, searchRef }: QueueFiltersProps) {
  const agents = useMemo(() => [...new Set(all.map((a) => a.agent))].sort(), [all]);
  const set = <K extends keyof Filters>(k: K, v: Filters[K]) => onChange({ ...filters, [k]: v });
  return (
    <div className="queue-filters" role="search">
      <input
        ref={searchRef}
        type="search"
        className="queue-search"
        data-testid="queue-search"
        placeholder="Search drafts  /"
        aria-label="Search drafts"
        value={filters.text}
        onChange={(e) => set("text", e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            set("text", "");
            e.currentTarget.blur();
          }
        }}
      />
      <div className="queue-selects">
        <select aria-label="Agent" data-testid="filter-agent" value={filters.agent} onChange={(e) => set("agent", e.target.value)}>
          <option value="">any agent</option>
          {agents.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
        <select aria-label="Kind" data-testid="filter-kind" value={filters.kind} onChange={(e) => set("kind", e.target.value as Filters["kind"])}>
          <option value="">any kind</option>
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <select aria-label="Risk level" data-testid="filter-level" value={filters.level} onChange={(e) => set("level", e.target.value as Filters["level"])}>
          <option value="">any risk</option>
          {LEVELS.map((l) => (
            <option key={l} value={l}>
              {l}
            </option>
          ))}
        </select>
        <select aria-label="Status" data-testid="filter-status" value={filters.status} onChange={(e) => set("status", e.target.value as Filters["status"])}>
          <option value="">any status</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      {isFiltered(filters) && (
        <p className="queue-filter-note muted" data-testid="filter-note">
          {shown} of {all.length} shown{" "}
          <button type="button" className="btn btn-ghost btn-small" onClick={() => onChange(NO_FILTERS)}>
            Clear
          </button>
        </p>
      )}
    </div>
  );
}
