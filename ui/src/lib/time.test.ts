import { describe, expect, it } from "vitest";
import { age, timeLeft, untilExpiry } from "./time";

describe("relative times", () => {
  it.each([
    [0, "just now"],
    [42, "42s ago"],
    [5 * 60 + 10, "5m ago"],
    [2 * 3600 + 15 * 60, "2h 15m ago"],
    [30 * 3600, "30h ago"],
    [3 * 86400, "3d ago"],
  ])("an age of %ss reads %s", (secs, text) => {
    expect(age(1_000_000, 1_000_000 - secs)).toBe(text);
  });

  it("counts down to expiry and says when it has passed", () => {
    expect(untilExpiry(100, 340)).toBe("expires in 4m");
    expect(timeLeft(100, 340)).toBe("4m left");
    expect(untilExpiry(100, 100)).toBe("expiry passed");
    expect(timeLeft(100, 90)).toBe("expired");
  });
});
