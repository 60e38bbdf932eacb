import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { JsonPaths } from "../bindings/JsonPaths";
import { postDiff } from "../test/fixtures";
import { ChangeView } from "./ChangeView";
import { JsonPathsView } from "./JsonPathsView";

const paths: JsonPaths = {
  changes: [
    { pointer: "/dry_run", op: "changed", old: "true", new: "false" },
    { pointer: "/limits/a~1b", op: "added", new: '{"rows":5000}' },
    { pointer: "/tags/2", op: "removed", old: '"old"' },
  ],
  more: 0,
};

/** Sign, pointer and values cell of each row, as text. */
const rows = () =>
  screen.getAllByTestId("json-path").map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent));

describe("JsonPathsView", () => {
  it("lists one row per changed path with a sign, the pointer and old → new", () => {
    render(<JsonPathsView paths={paths} />);
    expect(rows()).toEqual([
      ["~", "/dry_run", "true → false"],
      ["+", "/limits/a~1b", '{"rows":5000}'],
      ["−", "/tags/2", '"old"'],
    ]);
    expect(
      screen.getAllByTestId("json-path").map((r) => r.getAttribute("data-op")),
      "the operation is also named, not only coloured",
    ).toEqual(["changed", "added", "removed"]);
    expect(screen.getByTestId("json-paths").querySelector(".json-paths-title")?.textContent).toBe("Changed paths (3)");
    expect(screen.queryByTestId("json-paths-more")).toBeNull();
  });

  it("names the whole value when the pointer is empty", () => {
    render(<JsonPathsView paths={{ changes: [{ pointer: "", op: "changed", old: "1", new: "[1]" }], more: 0 }} />);
    expect(rows()).toEqual([["~", "(whole value)", "1 → [1]"]]);
  });

  it("shows hidden characters in pointers and values as badges", () => {
    render(
      <JsonPathsView
        paths={{ changes: [{ pointer: "/ad\u202Emin", op: "changed", old: '"a"', new: '"b\u200Bc"' }], more: 0 }}
      />,
    );
    const badges = [...screen.getByTestId("json-path").querySelectorAll<HTMLElement>(".hidden-char")].map(
      (b) => b.dataset.codepoint,
    );
    expect(badges).toEqual(["U+202E", "U+200B"]);
  });

  it("marks values and pointers cut for length and says how many paths are not listed", () => {
    render(
      <JsonPathsView
        paths={{
          changes: [{ pointer: "/kkk", pointer_cut: 9600, op: "added", new: '"xxx', new_cut: 1234 }],
          more: 2500,
        }}
      />,
    );
    expect(screen.getAllByTestId("json-cut").map((c) => c.textContent)).toEqual([
      "… 9,600 more characters",
      "… 1,234 more characters",
    ]);
    expect(screen.getByTestId("json-paths-more").textContent).toContain("… and 2,500 more changed paths");
    expect(screen.getByTestId("json-paths").querySelector(".json-paths-title")?.textContent).toBe(
      "Changed paths (2,501)",
    );
  });

  it("says so when the values are equal as JSON", () => {
    render(<JsonPathsView paths={{ changes: [], more: 0 }} />);
    expect(screen.getByTestId("json-paths").textContent).toContain("same JSON value");
    expect(screen.queryByTestId("json-path")).toBeNull();
  });
});

describe("ChangeView with changed paths", () => {
  it("shows the paths above the line diff of a tool call and of a JSON file", () => {
    const { rerender } = render(<ChangeView change={{ type: "json", label: "db/query", diff: postDiff, paths }} />);
    const list = screen.getByTestId("json-paths");
    expect(
      list.compareDocumentPosition(screen.getByTestId("diff")) & Node.DOCUMENT_POSITION_FOLLOWING,
      "the paths come first",
    ).toBeTruthy();
    rerender(
      <ChangeView change={{ type: "text", label: "/srv/a.json", diff: postDiff, before_known: true, paths }} />,
    );
    expect(screen.getAllByTestId("json-path")).toHaveLength(3);
  });

  it("shows no path list when the change has none", () => {
    render(<ChangeView change={{ type: "text", label: "/srv/a.txt", diff: postDiff, before_known: true }} />);
    expect(screen.queryByTestId("json-paths")).toBeNull();
    expect(screen.getByTestId("diff")).toBeTruthy();
  });
});
