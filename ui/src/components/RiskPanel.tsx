import type { Risk } from "../bindings/Risk";
import { RiskBadge } from "./RiskBadge";
import { SafeText } from "./SafeText";

/**
 * The score, its band and every factor that makes it up (points, reason, where it fired).
 * With `onLocate`, each factor's place is a button that shows it in the draft (the factor's
 * index in `risk.factors`).
 */
export function RiskPanel({ risk, onLocate }: { risk: Risk; onLocate?: (factor: number) => void }) {
  return (
    <section className="panel risk" aria-labelledby="risk-h">
      <h3 id="risk-h">Risk</h3>
      <p className={`risk-score risk-${risk.level}`} data-testid="risk-score">
        <span className="risk-score-number">{risk.score}</span>
        <span className="risk-score-of">/100</span> <RiskBadge score={risk.score} level={risk.level} />
      </p>
      {risk.factors.length === 0 ? (
        <p className="empty">No risk factors fired.</p>
      ) : (
        <ol className="factor-list">
          {risk.factors.map((f, i) => (
            <li key={i} className="factor" data-testid="risk-factor" data-factor={f.id}>
              <span className="factor-points">+{f.points}</span>
              <span className="factor-reason">
                <SafeText text={f.reason} />
              </span>
              <span className="factor-meta">
                <code>{f.id}</code> at{" "}
                {onLocate ? (
                  <button
                    type="button"
                    className="link-button"
                    data-testid="factor-locate"
                    title="Show where it fired"
                    aria-label={`Show where ${f.id} fired: ${f.pointer}`}
                    onClick={() => onLocate(i)}
                  >
                    <code>
                      <SafeText text={f.pointer} inline />
                    </code>
                    <span className="link-hint" aria-hidden="true">
                      {" "}
                      show
                    </span>
                  </button>
                ) : (
                  <code>
                    <SafeText text={f.pointer} inline />
                  </code>
                )}
              </span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
