import { describe, expect, it } from "vitest";
import { benchIssue } from "./bench-issue.ts";

// A smoke test: numbers depend on the machine (and on whatever else runs), so only the shape is asserted.
describe("benchIssue", () => {
  it("reports throughput, latency percentiles and the @peculiar/x509 reference", async () => {
    const r = await benchIssue({ seconds: 0.3, keyType: "ed25519" });
    expect(r.key_type).toBe("ed25519");
    expect(r.issued).toBeGreaterThan(0);
    expect(r.issue_per_s).toBeGreaterThan(0);
    expect(r.reference_peculiar_per_s).toBeGreaterThan(0);
    expect(r.p50_ms).toBeLessThanOrEqual(r.p95_ms);
    // the ratio is of the unrounded rates: under load the reference rate is small and its rounding shows
    const fromRounded = r.issue_per_s / r.reference_peculiar_per_s;
    expect(Math.abs(r.ratio - fromRounded) / fromRounded).toBeLessThan(0.15);
  });
});
