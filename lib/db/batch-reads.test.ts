import { describe, expect, it } from "vitest";
import { batchedRead } from "./batch-reads.ts";

/** A load function that records its calls and answers when told to. */
function gatedLoad() {
  const calls: string[][] = [];
  const gates: (() => void)[] = [];
  const load = async (keys: string[]) => {
    calls.push(keys);
    await new Promise<void>((r) => gates.push(r));
    if (keys.includes("boom")) throw new Error("query failed");
    return new Map(keys.filter((k) => k !== "missing").map((k) => [k, k.toUpperCase()]));
  };
  const release = async () => {
    while (!gates.length) await new Promise((r) => setTimeout(r, 1));
    gates.shift()?.();
  };
  return { load, calls, release };
}

describe("batchedRead", () => {
  it("callers of the same tick share one query; repeated keys are asked once; a key without a row is undefined", async () => {
    const g = gatedLoad();
    const read = batchedRead(g.load);
    const answers = Promise.all([read("a"), read("b"), read("a"), read("missing")]);
    await g.release();
    expect(await answers).toEqual(["A", "B", "A", undefined]);
    expect(g.calls).toEqual([["a", "b", "missing"]]);
  });

  it("a key asked for while a query runs waits for the next query (never an answer read before it asked)", async () => {
    const g = gatedLoad();
    const read = batchedRead(g.load);
    const first = read("a");
    await new Promise((r) => setTimeout(r, 5)); // the first query is now in flight
    const second = read("a");
    const third = read("c");
    await g.release();
    expect(await first).toBe("A");
    await g.release();
    expect(await Promise.all([second, third])).toEqual(["A", "C"]);
    expect(g.calls).toEqual([["a"], ["a", "c"]]);
  });

  it("a failed query rejects its own callers only", async () => {
    const g = gatedLoad();
    const read = batchedRead(g.load);
    const bad = read("boom");
    const sameBatch = read("x");
    await g.release();
    await expect(bad).rejects.toThrow("query failed");
    await expect(sameBatch).rejects.toThrow("query failed");
    const later = read("y");
    await g.release();
    expect(await later).toBe("Y");
  });

  it("splits more than 500 waiting keys over several queries", async () => {
    const g = gatedLoad();
    const read = batchedRead(g.load);
    const all = Promise.all(Array.from({ length: 1200 }, (_, i) => read(`k${i}`)));
    for (let i = 0; i < 3; i++) await g.release();
    expect((await all).at(-1)).toBe("K1199");
    expect(g.calls.map((c) => c.length)).toEqual([500, 500, 200]);
  });
});
