import type { ImpactItem } from "../bindings/ImpactItem";
import { SafeText } from "./SafeText";

/** Who or what the action affects; flagged items carry a warning marker, not colour alone. */
export function ImpactPanel({ items }: { items: ImpactItem[] }) {
  return (
    <section className="panel impact" data-testid="impact" aria-labelledby="impact-h">
      <h3 id="impact-h">Impact</h3>
      {items.length === 0 ? (
        <p className="empty">No impact reported.</p>
      ) : (
        <ul className="impact-list">
          {items.map((it, i) => (
            <li
              key={i}
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
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
