// The light and dark themes (ui/src/styles/app.css): dark follows the system through
// `prefers-color-scheme`, redefines every colour, and in both themes the risk colours, badges,
// diff lines and hidden-character badges keep the WCAG 2.x contrast for normal text (4.5:1).
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// Read as text (Vitest does not hand CSS to tests).
const css = readFileSync(path.join(import.meta.dirname, "app.css"), "utf8");

/** `--name: #hex` declarations inside the first block that `start` opens. */
function varsIn(start: number): Map<string, string> {
  const open = css.indexOf("{", start);
  const close = css.indexOf("}", open);
  const vars = new Map<string, string>();
  for (const m of css.slice(open, close).matchAll(/--([\w-]+):\s*(#[0-9a-fA-F]{3,6})\s*;/g)) vars.set(m[1]!, m[2]!);
  return vars;
}

const light = varsIn(css.indexOf(":root"));
const darkAt = css.indexOf("@media (prefers-color-scheme: dark)");
const darkOnly = varsIn(css.indexOf(":root", darkAt));
const dark = new Map([...light, ...darkOnly]);

/** WCAG 2.x relative luminance of `#rgb` or `#rrggbb`. */
function luminance(hex: string): number {
  const h = hex.length === 4 ? [...hex.slice(1)].map((c) => c + c).join("") : hex.slice(1);
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(h.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

const LEVELS = ["low", "medium", "high", "critical"];

/** [foreground, background, where it is seen]: a `--var` name or a literal colour. */
function pairs(theme: "light" | "dark"): [string, string, string][] {
  const onButton = theme === "light" ? "#ffffff" : "#111111"; // .btn-approve / .btn-reject text
  return [
    ["text", "bg", "page text"],
    ["text", "surface", "panel text"],
    ["text", "surface-2", "open queue row"],
    ["muted", "surface", "secondary text"],
    ["muted", "surface-2", "secondary text on the open row"],
    ["accent", "surface-2", "pending status chip"],
    ["accent-text", "accent", "primary button"],
    ...LEVELS.flatMap((l): [string, string, string][] => [
      [l, `${l}-bg`, `${l} risk badge`],
      [l, "surface", `${l} score`],
      [l, "surface-2", `${l} status chip`],
    ]),
    [onButton, "low", "Approve button"],
    [onButton, "critical", "Reject button"],
    ["text", "low-bg", "row selected for a batch"],
    ["text", "add-bg", "added diff line"],
    ["text", "del-bg", "removed diff line"],
    ["text", "add-emph", "added word"],
    ["text", "del-emph", "removed word"],
    ["text", "hunk-bg", "hunk header"],
    ["low", "add-bg", "+ gutter"],
    ["critical", "del-bg", "- gutter"],
    ["hidden-text", "hidden-bg", "hidden-character badge"],
    ["hidden-bg", "surface", "hidden-characters flag in the queue"],
    ...["keyword", "string", "comment", "number", "property", "function"].flatMap((k): [string, string, string][] =>
      ["surface", "add-bg", "del-bg", "add-emph", "del-emph"].map((bg): [string, string, string] => [`syn-${k}`, bg, `${k} token on ${bg}`]),
    ),
    ["text", "warn-bg", "warning note"],
    ["text", "error-bg", "error banner"],
  ];
}

const colour = (vars: Map<string, string>, v: string) => (v.startsWith("#") ? v : vars.get(v));

describe("themes", () => {
  it("dark follows the system: a prefers-color-scheme block redefines every colour of the light theme", () => {
    expect(darkAt, "a @media (prefers-color-scheme: dark) block").toBeGreaterThan(0);
    expect(css).toMatch(/color-scheme:\s*light dark/);
    const same = [...light.keys()].filter((k) => !darkOnly.has(k));
    expect(same, "colours the dark theme leaves light").toEqual([]);
  });

  for (const theme of ["light", "dark"] as const) {
    it(`${theme}: risk colours, badges, diff lines and hidden-character badges keep 4.5:1`, () => {
      const vars = theme === "light" ? light : dark;
      const failing = pairs(theme)
        .map(([fg, bg, where]) => {
          const [f, b] = [colour(vars, fg), colour(vars, bg)];
          expect(f, `${fg} is defined`).toBeDefined();
          expect(b, `${bg} is defined`).toBeDefined();
          return { where, fg, bg, ratio: Math.round(contrast(f!, b!) * 100) / 100 };
        })
        .filter((p) => p.ratio < 4.5);
      expect(failing).toEqual([]);
    });
  }
});
