// `npm run bench`'s short report: each figure beside its target and its same-run baseline.
import { describe, expect, it, vi } from "vitest";
import { benchReport } from "./commands/bench.ts";

vi.mock("server-only", () => ({}));

const enroll = (over: Record<string, number | null>) => ({
  bare_handshake_per_s: 400,
  fresh_enroll_per_s: 180,
  resumed_enroll_per_s: 350,
  keepalive_enroll_per_s: 1200,
  fresh_vs_handshake: 0.45,
  concurrency: 32,
  ...over,
});

describe("bench report", () => {
  it("names every target, met or not, with the baselines of the same run", () => {
    const md = benchReport({
      at: "2026-11-23T00:00:00.000Z",
      cores: 2,
      issue: {
        issue_per_s: 2600,
        issue_per_process_cpu_s: 2700,
        issue_per_machine_cpu_s: 1900,
        issue_vs_core: 0.8,
        core_issue_per_s: 3300,
        peculiar_reference_per_s: 180,
        core_vs_peculiar: 18.3,
        cfssl_per_s: 3200,
        ratio_vs_cfssl: 0.81,
        concurrency: 64,
        database: "postgresql",
      } as never,
      enroll: enroll({}),
      keepalive: enroll({ keepalive_enroll_per_s: 1800, concurrency: 256 }),
      api: { concurrent: { concurrency: 8, per_s: 300, p50_ms: 20, p95_ms: 40 }, sequential: { p50_ms: 5 } } as never,
    });
    expect(md).toContain(
      "| issuance with the database write, 64 concurrent | 2600/s (2700 per CPU-second of the process, 1900 of the machine) | signing core alone 3300/s (×0.8); cfssl 3200 (×0.81) | ≥ 2,000/s per core (machine CPU-second) | **not met** |",
    );
    expect(md).toContain("bare handshakes 400/s (×0.45) | ≥ 0.85 of the handshakes | **not met** |");
    expect(md).toContain("1200/s at 32 connections, 1800/s at 256 | | ≥ 1,500/s | met |");
  });

  it("judges issuance per CPU-second of the process where the machine's CPU time is unknown", () => {
    const md = benchReport({
      at: "2026-11-23T00:00:00.000Z",
      cores: 2,
      issue: {
        issue_per_s: 2600,
        issue_per_process_cpu_s: 2100,
        issue_per_machine_cpu_s: null,
        issue_vs_core: 0.8,
        core_issue_per_s: 3300,
        peculiar_reference_per_s: 180,
        core_vs_peculiar: 18.3,
        cfssl_per_s: null,
        ratio_vs_cfssl: null,
        concurrency: 64,
        database: "embedded",
      } as never,
      enroll: enroll({}),
      keepalive: enroll({ concurrency: 256 }),
      api: { concurrent: { concurrency: 8, per_s: 300, p50_ms: 20, p95_ms: 40 }, sequential: { p50_ms: 5 } } as never,
    });
    expect(md).toContain("| 2600/s (2100 per CPU-second of the process) | signing core alone 3300/s (×0.8); cfssl not installed |");
    expect(md).toContain("| ≥ 2,000/s per core (machine CPU-second) | met |");
  });
});
