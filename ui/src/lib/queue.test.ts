import { describe, expect, it } from "vitest";
import { NOW, summary } from "../test/fixtures";
import { filterActions, ITEM_HEIGHT, layout, NO_FILTERS, ordered, queueItems, visibleRange } from "./queue";

const id = (n: number) => `id-${String(n).padStart(5, "0")}`;

describe("queue order", () => {
  it("groups pending drafts by agent, the group with the riskiest draft first, risk then age inside", () => {
    const list = [
      summary({ id: id(1), agent: "docs-bot", score: 20, created_at: NOW - 10 }),
      summary({ id: id(2), agent: "ops-bot", score: 90, created_at: NOW - 5 }),
      summary({ id: id(3), agent: "docs-bot", score: 60, created_at: NOW - 1 }),
      summary({ id: id(4), agent: "ops-bot", score: 20, created_at: NOW - 100 }),
      summary({ id: id(5), agent: "ops-bot", score: 20, created_at: NOW - 50 }),
      summary({ id: id(6), agent: "ops-bot", score: 99, status: "approved", created_at: NOW - 2 }),
    ];
    expect(ordered(list).map((a) => a.id)).toEqual([id(2), id(4), id(5), id(3), id(1), id(6)]);
    const items = queueItems(list);
    expect(items.map((i) => (i.type === "row" ? i.action.id : i.key))).toEqual([
      "s:pending",
      "g:ops-bot",
      id(2),
      id(4),
      id(5),
      "g:docs-bot",
      id(3),
      id(1),
      "s:decided",
      id(6),
    ]);
  });
});

describe("queue filters", () => {
  const list = [
    summary({ id: id(1), agent: "docs-bot", kind: "file.write", level: "low", target: "file:///etc/app.toml" }),
    summary({ id: id(2), agent: "ops-bot", kind: "shell.exec", level: "critical", summary: "Drop the CACHE" }),
    summary({ id: id(3), agent: "ops-bot", kind: "shell.exec", level: "low", status: "rejected" }),
  ];
  const ids = (f: Partial<typeof NO_FILTERS>) => filterActions(list, { ...NO_FILTERS, ...f }).map((a) => a.id);

  it.each([
    ["nothing", {}, [id(1), id(2), id(3)]],
    ["agent", { agent: "ops-bot" }, [id(2), id(3)]],
    ["kind", { kind: "file.write" as const }, [id(1)]],
    ["level", { level: "low" as const }, [id(1), id(3)]],
    ["status", { status: "rejected" as const }, [id(3)]],
    ["text in the summary, any case", { text: "cache" }, [id(2)]],
    ["text in the target", { text: "etc/app" }, [id(1)]],
    ["text in the id", { text: "00003" }, [id(3)]],
    ["every filter at once", { agent: "ops-bot", level: "low" as const, text: "ops" }, [id(3)]],
  ])("by %s", (_name, f, expected) => {
    expect(ids(f)).toEqual(expected);
  });
});

describe("virtual list window", () => {
  const many = Array.from({ length: 10_000 }, (_, i) =>
    summary({ id: id(i), agent: `agent-${i % 7}`, score: i % 100, created_at: NOW - i }),
  );

  it("places every line at a fixed offset and shows only the lines in view", () => {
    const items = queueItems(many);
    const { offsets, total } = layout(items);
    expect(items).toHaveLength(10_000 + 1 + 7);
    expect(total).toBe(10_000 * ITEM_HEIGHT.row + ITEM_HEIGHT.section + 7 * ITEM_HEIGHT.group);
    const [start, end] = visibleRange(offsets, total, 400_000, 800, 5);
    expect(end - start, "about a screenful plus the overscan").toBeLessThan(30);
    expect(offsets[start + 5]!).toBeLessThanOrEqual(400_000);
    expect(offsets[end - 6]! + ITEM_HEIGHT.row).toBeGreaterThanOrEqual(400_800 - ITEM_HEIGHT.row);
  });

  it("covers the first and the last screen", () => {
    const { offsets, total } = layout(queueItems(many));
    expect(visibleRange(offsets, total, 0, 800, 0)[0]).toBe(0);
    expect(visibleRange(offsets, total, total - 800, 800, 0)[1]).toBe(offsets.length);
    expect(visibleRange([], 0, 0, 800)).toEqual([0, 0]);
  });
});
