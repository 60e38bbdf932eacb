/** The team queue as the window keeps it: applied from the shell's `team-event`s. */
import type { Requirement } from "../bindings/Requirement";
import type { TeamDraft } from "../bindings/TeamDraft";
import type { TeamEvent } from "../bindings/TeamEvent";
import type { TeamLink } from "../bindings/TeamLink";

/**
 * The list after `ev`: a snapshot replaces it, `pending` adds or updates its draft, `decided`
 * removes it. Before the first list (`null`) only a snapshot makes one.
 */
export function applyTeamEvent(list: TeamDraft[] | null, ev: TeamEvent): TeamDraft[] | null {
  switch (ev.type) {
    case "snapshot":
      return ev.drafts;
    case "pending": {
      if (list === null) return null;
      const at = list.findIndex((d) => d.summary.id === ev.draft.summary.id);
      if (at < 0) return [...list, ev.draft];
      const next = list.slice();
      next[at] = ev.draft;
      return next;
    }
    case "decided":
      return list === null ? null : list.filter((d) => d.summary.id !== ev.id);
  }
}

/** Riskiest first, then oldest (the one closest to being denied by default). */
export function orderTeam(list: readonly TeamDraft[]): TeamDraft[] {
  return [...list].sort(
    (a, b) => b.summary.score - a.summary.score || a.summary.created_at - b.summary.created_at,
  );
}

/** What a draft needs, in words. */
export function requirementText(r: Requirement): string {
  switch (r) {
    case "auto_approve":
      return "auto-approved";
    case "one_approver":
      return "one approver";
    case "two_approvers":
      return "two approvers";
    case "lead_required":
      return "a lead";
    case "blocked":
      return "blocked by policy";
  }
}

/** The link's state in a few words: "live", "reconnecting in 4 s", "session ended". */
export function connectionText(link: TeamLink): string {
  switch (link.connection) {
    case "connecting":
      return "connecting…";
    case "live":
      return "live";
    case "retrying":
      return link.retry_in_s != null ? `offline, retrying in ${link.retry_in_s} s` : "offline, retrying";
    case "expired":
      return "session ended: log in again";
  }
}

/**
 * Whether `next` — a status event or a command's answer about this app's team link — is newer
 * than the newest state seen (`seen`, a `TeamLink.version`): the two can cross on their way to
 * the window, and an older "connecting" must not hide the "live" that followed it. Null (not
 * joined, or just left) always applies.
 */
export function isNewerLink(seen: number, next: TeamLink | null): boolean {
  return next === null || next.version > seen;
}
