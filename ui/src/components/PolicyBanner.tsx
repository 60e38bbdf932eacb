import type { PolicyView } from "../bindings/PolicyView";

/**
 * Shown while the last policy file offered was refused: why, and which policy stayed in force.
 * The refusal text comes from Rust (it names the field and line, or the signature problem).
 */
export function PolicyBanner({ view, onOpen }: { view: PolicyView; onOpen: () => void }) {
  const r = view.refusal;
  if (!r) return null;
  const kept = view.in_force ? `serial ${view.in_force.policy.serial} stays in force` : "no policy is in force";
  return (
    <div className="policy-banner" role="alert" data-testid="policy-refused">
      <strong>Policy refused</strong>
      <span className="policy-banner-message">
        {r.message} — {kept}.
      </span>
      <button type="button" className="btn btn-small" onClick={onOpen}>
        View policy
      </button>
    </div>
  );
}
