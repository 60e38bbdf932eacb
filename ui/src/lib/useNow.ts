import { useEffect, useState } from "react";
import { nowSeconds } from "./time";

/**
 * The clock, re-read every `everyMs` so ages and expiries stay current. This only re-renders;
 * the queue itself is pushed by the `queue-changed` event, never polled.
 */
export function useNow(everyMs = 10_000): number {
  const [now, setNow] = useState(nowSeconds);
  useEffect(() => {
    const t = setInterval(() => setNow(nowSeconds()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
