/** Times on the wire are Unix seconds; these render them for people. */

function span(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 && h < 10 ? `${h}h ${m % 60}m` : `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** `12s ago`, `5m ago`, `3h ago`; `just now` under five seconds. */
export function age(now: number, at: number): string {
  const d = now - at;
  return d < 5 ? "just now" : `${span(d)} ago`;
}

/** `expires in 4m`, or `expiry passed` once `now` is at or past `expiresAt`. */
export function untilExpiry(now: number, expiresAt: number): string {
  const d = expiresAt - now;
  return d <= 0 ? "expiry passed" : `expires in ${span(d)}`;
}

/** Compact form for the queue: `9m left`, or `expired`. */
export function timeLeft(now: number, expiresAt: number): string {
  const d = expiresAt - now;
  return d <= 0 ? "expired" : `${span(d)} left`;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Local `YYYY-MM-DD HH:MM:SS`, unambiguous across locales. */
export function absolute(at: number): string {
  const d = new Date(at * 1000);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** Current time in Unix seconds. */
export const nowSeconds = () => Date.now() / 1000;
