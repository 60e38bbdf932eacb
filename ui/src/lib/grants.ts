import type { ActionDetail } from "../bindings/ActionDetail";
import { grantKey, type GrantFlags } from "../components/PrincipalTable";

const LABELS: Record<string, string> = {
  "access.broad_principal": "broad group",
  "access.escalation": "raises permission",
  "access.sensitive_to_broad": "sensitive data to a broad group",
};

/**
 * Finds the gained grants the risk scorer flagged. Factors point into the action
 * (`/payload/grants/3`); the grant at that pointer is matched to the diff by principal and
 * permission, so no reason text is parsed. A flagged "Gains access" impact item whose value is
 * `principal (permission)` (how the core writes it) is honoured too.
 */
export function grantFlags(detail: ActionDetail): GrantFlags {
  const flags = new Map<string, string[]>();
  const add = (key: string, why: string) => {
    const list = flags.get(key) ?? [];
    if (!list.includes(why)) list.push(why);
    flags.set(key, list);
  };
  const payload = detail.action.payload;
  const grants =
    payload !== null && typeof payload === "object" && !Array.isArray(payload) ? payload.grants : undefined;
  for (const f of detail.risk.factors) {
    const m = /^\/payload\/grants\/(\d+)$/.exec(f.pointer);
    if (!m || !Array.isArray(grants)) continue;
    const g = grants[Number(m[1])];
    if (g === null || typeof g !== "object" || Array.isArray(g)) continue;
    if (typeof g.principal !== "string" || typeof g.permission !== "string") continue;
    add(grantKey({ principal: g.principal, permission: g.permission }), `${LABELS[f.id] ?? f.id} +${f.points}`);
  }
  if (detail.review.change.type === "principals") {
    for (const g of detail.review.change.diff.gained) {
      const flagged = detail.review.impact.some(
        (i) => i.flagged && i.label === "Gains access" && i.value === `${g.principal} (${g.permission})`,
      );
      if (flagged && !flags.has(grantKey(g))) add(grantKey(g), "flagged");
    }
  }
  return flags;
}

/**
 * Where each grant of an `acl.change` sits in the action, by {@link grantKey}:
 * `/payload/grants/<index>` (the first index when a grant is listed twice).
 */
export function grantPointers(detail: Pick<ActionDetail, "action">): Map<string, string> {
  const out = new Map<string, string>();
  const payload = detail.action.payload;
  const grants = payload !== null && typeof payload === "object" && !Array.isArray(payload) ? payload.grants : undefined;
  if (!Array.isArray(grants)) return out;
  grants.forEach((g, i) => {
    if (g === null || typeof g !== "object" || Array.isArray(g)) return;
    if (typeof g.principal !== "string" || typeof g.permission !== "string") return;
    const key = grantKey({ principal: g.principal, permission: g.permission });
    if (!out.has(key)) out.set(key, `/payload/grants/${i}`);
  });
  return out;
}
