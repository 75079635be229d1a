// `pss bench api`: bootstrap-certificate issuance over HTTP — the customer API's full path (bearer token,
// JWS verification, nonce consumed, CSR checks, signing, database write) — latency p50/p95 with one client
// and with several, on a scratch database. Client-side signing (JWS + CSR) happens before the clock starts.
import { freshClaims, signPayload } from "../api/sign.ts";
import { csrPem, publicUrl, startApiServer, tenant } from "../api/testing/api-server.ts";
import { load, withScratchDatabase } from "./harness.ts";

export async function benchApi({
  seconds = 5,
  concurrency = 8,
  databaseUrl,
}: {
  seconds?: number;
  concurrency?: number;
  databaseUrl?: string;
} = {}) {
  return withScratchDatabase(async () => {
    const api = await startApiServer();
    try {
      // Several customers, requests spread over them: each client's issuance limit (RATE_LIMITS.issue, 600 a minute)
      // stays out of what is measured, however fast this machine issues.
      const TENANTS = 4;
      const stamp = Date.now().toString(36);
      const tenants = await Promise.all(Array.from({ length: TENANTS }, (_, i) => tenant(api, `Bench API ${stamp} ${i}`)));
      const url = `${api.url}/api/v1/bootstrap-certificates`;
      const bodies = await Promise.all(
        Array.from({ length: 1200 }, async (_, i) =>
          signPayload(tenants[i % TENANTS].key, { csr: csrPem(), ...freshClaims() }, { url: publicUrl("/api/v1/bootstrap-certificates") }),
        ),
      );
      let used = 0;
      const request = async () => {
        if (used >= bodies.length) throw new Error("ran out of pre-signed payloads: lower --seconds");
        const i = used++;
        const res = await fetch(url, {
          method: "POST",
          headers: { authorization: `Bearer ${tenants[i % TENANTS].token}`, "content-type": "application/jose+json" },
          body: bodies[i],
        });
        await res.arrayBuffer();
        if (res.status !== 201) throw new Error(`bootstrap request answered ${res.status}`);
      };
      const sequential = await load(Math.min(seconds, 3), 1, request);
      const concurrent = await load(Math.min(seconds, 3), concurrency, request);
      return {
        endpoint: "POST /api/v1/bootstrap-certificates",
        sequential: { per_s: sequential.per_s, p50_ms: sequential.p50_ms, p95_ms: sequential.p95_ms, requests: sequential.count },
        concurrent: {
          concurrency,
          per_s: concurrent.per_s,
          p50_ms: concurrent.p50_ms,
          p95_ms: concurrent.p95_ms,
          requests: concurrent.count,
        },
        database: databaseUrl ? "postgresql" : "embedded (PGlite over its socket)",
        note: "route handlers behind a plain Node HTTP server in one process (the same handlers Next.js serves); pre-signed payloads",
      };
    } finally {
      await api.close();
    }
  }, databaseUrl);
}
