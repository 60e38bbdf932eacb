import type { ApiError } from "../bindings/ApiError";

/** The latest failure, shown until dismissed; nothing that fails is swallowed. */
export function ErrorBanner({ error, onDismiss }: { error: ApiError; onDismiss: () => void }) {
  return (
    <div className="error-banner" role="alert" data-testid="error">
      <span className="error-code">{error.code}</span>
      <span className="error-message">{error.message}</span>
      <button type="button" className="btn btn-ghost" onClick={onDismiss} aria-label="Dismiss error">
        ×
      </button>
    </div>
  );
}
