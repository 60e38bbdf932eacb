import type { RiskLevel } from "../bindings/RiskLevel";

/** Score and level together: the colour repeats the text, never replaces it. */
export function RiskBadge({ score, level }: { score: number; level: RiskLevel }) {
  return (
    <span className={`risk-badge risk-${level}`} data-level={level} title={`risk ${score}/100, ${level}`}>
      <span className="risk-badge-score">{score}</span>
      <span className="risk-badge-level">{level}</span>
    </span>
  );
}
