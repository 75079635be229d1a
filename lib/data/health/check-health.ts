import { db } from "../../db/client.ts";
import { env } from "../../env.ts";
import { log } from "../../log.ts";

export type Health = { status: "ok" | "degraded"; database: { ok: boolean; kind: "embedded" | "postgresql"; latencyMs?: number } };

/** Liveness and readiness: the database answers a query. */
export async function checkHealth(): Promise<Health> {
  const kind = env().embedded ? "embedded" : "postgresql";
  const started = performance.now();
  try {
    await db().$queryRaw`SELECT 1`;
    return { status: "ok", database: { ok: true, kind, latencyMs: Math.round((performance.now() - started) * 10) / 10 } };
  } catch (e) {
    log.error({ err: e instanceof Error ? e.message : String(e) }, "health check: database unreachable");
    return { status: "degraded", database: { ok: false, kind } };
  }
}
