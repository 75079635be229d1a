// Key newness of manufacturing batches is decided in the storing transaction, under the keys' locks: two
// batches sent at once that share a key cannot both be stored. (With PostgreSQL their checks interleave;
// the embedded PGlite runs them one after the other anyway.)
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { dbLabel, testDb, unique } from "../../../tests/db.ts";
import { freshClaims, signPayload } from "../../api/sign.ts";
import { type ApiServer, csrPem, publicUrl, startApiServer, type TestTenant, tenant } from "../../api/testing/api-server.ts";
import { ensureHierarchy } from "../ca/hierarchy.ts";

vi.mock("server-only", () => ({}));

const db = testDb();
let api: ApiServer;
let a: TestTenant;
const BATCH = "/api/v1/manufacturing/client-tls-certificates";

beforeAll(async () => {
  await ensureHierarchy({ type: "system", id: "test" });
  api = await startApiServer();
  a = await tenant(api, unique("Keyrace Mfg").replace(/-/g, " "));
});
afterAll(() => api?.close());

async function batch(csrs: string[]) {
  const body = await signPayload(a.key, { csrs, ...freshClaims() }, { url: publicUrl(BATCH) });
  const res = await fetch(`${api.url}${BATCH}`, {
    method: "POST",
    headers: { authorization: `Bearer ${a.token}`, "content-type": "application/jose+json" },
    body,
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
}

describe(`manufacturing batches sharing a key (${dbLabel()})`, () => {
  it("of concurrent batches with one key in common, exactly one is stored", async () => {
    const shared = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    const batches = Array.from({ length: 4 }, (_, i) => [csrPem(undefined, unique(`kb${i}`)), csrPem(shared, unique(`ks${i}`))]);
    const results = await Promise.all(batches.map(batch));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    expect(results.filter((r) => r.status === 409).map((r) => r.body.error?.code)).toEqual(Array(3).fill("csr_key_reused"));
    // all or nothing: the refused batches stored neither of their certificates
    expect(await db.certificate.count({ where: { customerId: a.customerId } })).toBe(2);
  });
});
