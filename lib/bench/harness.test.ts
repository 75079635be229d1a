import { describe, expect, it } from "vitest";
import { load } from "./harness.ts";

describe("load", () => {
  it("runs the warm-up uncounted, then measures the same operation", async () => {
    const calls: number[] = [];
    const op = async (i: number) => {
      calls.push(i);
      await new Promise((r) => setTimeout(r, 5));
    };
    const r = await load(0.3, 2, op, { warmup: 0.3 });
    // each caller runs ~60 ops in 0.3 s; the warm-up's are in `calls` but not in the result
    expect(r.count).toBeGreaterThan(10);
    expect(calls.length).toBeGreaterThan(r.count + 10);
    // indices keep counting across the warm-up: the measured window's operations get fresh inputs
    expect(new Set(calls).size).toBe(calls.length);
    expect(r.per_s).toBeGreaterThan(0);
  });

  it("without a warm-up, every operation is counted", async () => {
    let n = 0;
    const r = await load(0.2, 3, async () => {
      n++;
      await new Promise((r) => setTimeout(r, 5));
    });
    expect(r.count).toBe(n);
  });
});
