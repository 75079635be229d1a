// Shared by the benchmarks: a scratch database set up like the product's, and a closed-loop load generator.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureHierarchy } from "../data/ca/hierarchy.ts";
import { closeDb, openDatabase } from "../db/client.ts";
import { serveEmbedded } from "../db/embedded.ts";
import { deployMigrations } from "../db/migrator.ts";
import type { DbTarget } from "../db/target.ts";

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
export const round = (n: number) => Math.round(n * 10) / 10;

/** CPU seconds the whole machine spent busy so far (every process: ours, a database server's), from /proc/stat. */
export function machineBusySeconds(): number | null {
  try {
    const [, ...fields] = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
    return (user + nice + system + irq + softirq + (steal ?? 0)) / 100; // USER_HZ
  } catch {
    return null;
  }
}

/**
 * Run `op` with `concurrency` callers for `seconds`; returns ops/s, latency percentiles and what each op cost
 * in CPU: ops per CPU-second of this process, and of the whole machine (the database server included).
 * `warmup` seconds of the same load run first, uncounted: the JIT compiles the path and connections open.
 */
export async function load(seconds: number, concurrency: number, op: (i: number) => Promise<unknown>, { warmup = 0 } = {}) {
  let next = 0;
  const run = async (until: number, latencies: number[]) => {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < until) {
          const i = next++;
          const t = performance.now();
          await op(i);
          latencies.push(performance.now() - t);
        }
      }),
    );
  };
  if (warmup > 0) await run(performance.now() + warmup * 1000, []);
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const machineBefore = machineBusySeconds();
  await run(end, latencies);
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const machineAfter = machineBusySeconds();
  const machine = machineBefore === null || machineAfter === null ? null : machineAfter - machineBefore;
  latencies.sort((a, b) => a - b);
  return {
    per_s: Math.round(latencies.length / elapsed),
    per_process_cpu_s: Math.round(latencies.length / ((cpu.user + cpu.system) / 1e6)),
    per_machine_cpu_s: machine ? Math.round(latencies.length / machine) : null,
    p50_ms: round(percentile(latencies, 0.5)),
    p95_ms: round(percentile(latencies, 0.95)),
    count: latencies.length,
  };
}

/**
 * Run `fn` on a scratch embedded database served over its socket as the product serves it (or on the
 * PostgreSQL at `databaseUrl`), with the CA hierarchy created; cleans up afterwards.
 */
export async function withScratchDatabase<T>(fn: (target: DbTarget) => Promise<T>, databaseUrl?: string): Promise<T> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-bench-"));
  const dir = path.join(dataDir, "pglite");
  let embedded: Awaited<ReturnType<typeof serveEmbedded>> | null = null;
  let target: DbTarget;
  if (databaseUrl) {
    target = { kind: "postgres", url: databaseUrl };
    await deployMigrations(target);
  } else {
    await deployMigrations({ kind: "pglite", dir });
    embedded = await serveEmbedded(dir, path.join(dataDir, "run"));
    target = embedded.target;
  }
  openDatabase(target);
  try {
    await ensureHierarchy({ type: "system", id: "bench" });
    return await fn(target);
  } finally {
    await closeDb();
    await embedded?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
