import { useCallback, useRef, useState, type RefObject } from "react";
import type { Review } from "../bindings/Review";
import type { Risk } from "../bindings/Risk";

/**
 * A place in a text diff to bring into view and mark: new line `line` (1-based), UTF-16
 * columns `[start, end)` of its text (`start === end` marks where a whole value starts).
 * `n` changes with every request, so asking for the same place again scrolls again.
 */
export type DiffFocus = { line: number; start: number; end: number; n: number };

/** How long a located element stays highlighted, in ms. */
export const LOCATED_MS = 2500;

/**
 * The element pointer, among `candidates` (JSON Pointers, RFC 6901, of what the view shows),
 * that shows the value at `pointer`: the same pointer, or else the longest one that contains
 * it (`/payload/argv` for `/payload/argv/2`). Null when none does.
 */
export function bestPointer(pointer: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  for (const c of candidates) {
    if (c === pointer) return c;
    const contains = pointer.startsWith(`${c}/`);
    if (contains && (best === null || c.length > best.length)) best = c;
  }
  return best;
}

/**
 * "Show where" for the risk panel of a detail view rooted at `root`: a factor with a spot in
 * the review ({@link Review.spots}) focuses that line of the diff ({@link DiffFocus}); any
 * other factor scrolls to the element whose `data-pointer` shows its field (or the change
 * panel) and highlights it for {@link LOCATED_MS}.
 */
export function useLocate(root: RefObject<HTMLElement | null>, risk: Risk, review: Review) {
  const [focus, setFocus] = useState<DiffFocus | null>(null);
  const n = useRef(0);
  const locate = useCallback(
    (factor: number) => {
      const spot = review.spots?.find((s) => s.factor === factor);
      n.current += 1;
      if (spot) {
        setFocus({ line: spot.line, start: spot.start, end: spot.end, n: n.current });
        return;
      }
      const f = risk.factors[factor];
      const el = root.current;
      if (!f || !el) return;
      const shown = [...el.querySelectorAll<HTMLElement>("[data-pointer]")];
      const best = bestPointer(f.pointer, shown.map((e) => e.dataset.pointer ?? ""));
      // The change itself before the impact panel when both show the field.
      const matches = shown.filter((e) => e.dataset.pointer === best);
      const target =
        matches.find((e) => e.closest("[data-testid='change']") && e.dataset.testid !== "change") ??
        matches[0] ??
        el.querySelector<HTMLElement>("[data-testid='change']");
      if (!target) return;
      target.scrollIntoView?.({ block: "center" });
      target.classList.add("located");
      target.setAttribute("data-located", String(n.current));
      const mine = String(n.current);
      setTimeout(() => {
        if (target.getAttribute("data-located") !== mine) return;
        target.classList.remove("located");
        target.removeAttribute("data-located");
      }, LOCATED_MS);
    },
    [root, risk, review],
  );
  return { focus, locate };
}
