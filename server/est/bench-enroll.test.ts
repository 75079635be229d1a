// `pss bench enroll` end to end, as an operator runs it (its own scratch embedded database, a real listener,
// the load generator in its own process). Numbers depend on the machine, so only what makes them honest is
// asserted: every bare handshake counted was completed by the server (not reset after the client's
// secureConnect), every enrollment succeeded, and the server's cost per operation is reported.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-bench-enroll-"));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

type ModeResult = { mode: string; ops: number; errors: number; server_cpu_ms_per_op: number; server_handshakes: number };

describe("pss bench enroll", () => {
  it("counts only handshakes the server completed, and reports the server's CPU per operation", async () => {
    // 3 s per mode: a fresh enrollment on the embedded database must complete inside the window even when the
    // other test files load both cores (one CI run counted none in 1 s)
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["bin/pss.mjs", "bench", "enroll", "--json", "--seconds", "3", "--warmup", "0.5", "--concurrency", "4", "--modes", "handshake,fresh"],
      { cwd: ROOT, env: { ...process.env, PSS_DATA_DIR: dataDir, DATABASE_URL: "" }, timeout: 110_000 },
    );
    const r = JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as { errors: number; detail: ModeResult[] };
    const [handshake, fresh] = r.detail;
    expect(r.errors).toBe(0);
    expect(handshake.mode).toBe("handshake");
    expect(handshake.ops).toBeGreaterThan(0);
    // the server finished every handshake the client counted, but for those in flight when the window closed: the
    // client counts one when the server's Finished arrives, the server when the client's does, a moment later
    // (at most one per connection, 4 here); ops in flight at the window's start may add a few the other way
    expect(handshake.server_handshakes).toBeGreaterThanOrEqual(handshake.ops - 4);
    expect(fresh.mode).toBe("fresh");
    expect(fresh.ops).toBeGreaterThan(0);
    expect(fresh.server_handshakes).toBeGreaterThanOrEqual(fresh.ops - 4);
    for (const m of r.detail) expect(m.server_cpu_ms_per_op).toBeGreaterThan(0);
  }, 120_000);
});
