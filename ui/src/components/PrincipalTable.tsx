import type { Grant } from "../bindings/Grant";
import type { PrincipalDiff } from "../bindings/PrincipalDiff";
import { SafeText } from "./SafeText";

/** Why a gained grant deserves attention (from the risk factors), keyed by {@link grantKey}. */
export type GrantFlags = ReadonlyMap<string, readonly string[]>;

/** Key of a grant in {@link GrantFlags}. */
export const grantKey = (g: Grant) => JSON.stringify([g.principal, g.permission]);

type Section = { title: string; tone: "gained" | "lost" | "kept"; grants: Grant[] };

/**
 * Who gains, loses and keeps access. Gained grants the risk flagged (a broad group, an
 * escalation) carry a warning marker and its reason.
 */
export function PrincipalTable({
  diff,
  flags,
  pointers,
}: {
  diff: PrincipalDiff;
  flags?: GrantFlags;
  /** Where each grant sits in the action (`/payload/grants/3`), by {@link grantKey}. */
  pointers?: ReadonlyMap<string, string>;
}) {
  const sections: Section[] = [
    { title: "Gains access", tone: "gained", grants: diff.gained },
    { title: "Loses access", tone: "lost", grants: diff.lost },
    { title: "Keeps access", tone: "kept", grants: diff.kept },
  ];
  return (
    <div className="principals" data-testid="diff">
      <p className="change-label">
        Resource{" "}
        <code data-pointer="/payload/resource">
          <SafeText text={diff.resource} />
        </code>
      </p>
      {!diff.before_known && (
        <p className="note">No current grants given; every grant is shown as gained.</p>
      )}
      <table className="principal-table">
        <thead>
          <tr>
            <th scope="col">Change</th>
            <th scope="col">Principal</th>
            <th scope="col">Permission</th>
            <th scope="col">Attention</th>
          </tr>
        </thead>
        {sections.map((s) => (
          <tbody key={s.tone} className={`grants-${s.tone}`} data-section={s.tone}>
            {s.grants.length === 0 ? (
              <tr className="grant-none">
                <th scope="row">{s.title}</th>
                <td colSpan={3} className="muted">
                  none
                </td>
              </tr>
            ) : (
              s.grants.map((g, i) => {
                const why = s.tone === "gained" ? flags?.get(grantKey(g)) : undefined;
                return (
                  <tr
                    key={i}
                    className={`grant grant-${s.tone}${why?.length ? " flagged" : ""}`}
                    data-testid={`grant-${s.tone}`}
                    data-flagged={why?.length ? "true" : undefined}
                    data-pointer={s.tone === "lost" ? undefined : pointers?.get(grantKey(g))}
                  >
                    <th scope="row">
                      <span className="grant-sign" aria-hidden="true">
                        {s.tone === "gained" ? "+" : s.tone === "lost" ? "−" : "="}
                      </span>{" "}
                      {s.title}
                    </th>
                    <td>
                      <code>
                        <SafeText text={g.principal} inline />
                      </code>
                    </td>
                    <td>
                      <code>
                        <SafeText text={g.permission} inline />
                      </code>
                    </td>
                    <td>
                      {why?.map((w, wi) => (
                        <span key={wi} className="warn-marker">
                          ⚠ <SafeText text={w} inline />
                        </span>
                      ))}
                    </td>
                  </tr>
                );
              })
            )}
          </tbody>
        ))}
      </table>
    </div>
  );
}
