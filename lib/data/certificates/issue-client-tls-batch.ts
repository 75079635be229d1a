// POST /api/v1/manufacturing/client-tls-certificates (SPEC §4): up to 1000 Client TLS certificates for new
// devices in one call, all or nothing (every certificate is signed first, then one transaction stores them all).
// An Idempotency-Key makes a retry answer the stored result; the key is bound to the CSRs, not to the JWS, so a
// retry signed again with a fresh nonce finds it too.
import { createHash } from "node:crypto";
import { db, type Tx } from "../../db/client.ts";
import { AppError, isUniqueViolation } from "../../errors.ts";
import { metrics } from "../../metrics.ts";
import { type ParsedCsr, parseCsr, requireDeviceId } from "../../pki/csr.ts";
import { API_LIMITS, manufacturingPayloadSchema } from "../../validations/api.ts";
import { type ApiCaller, requireAdmin } from "../api/access-token.ts";
import { limitClient } from "../api/rate-limit.ts";
import { acceptPayload, parseJwsBody, verifyKeySigned } from "../api/signed-payload.ts";
import { checkDeviceLists, effectivePolicy } from "../enrollment/policy.ts";
import { lockActiveSigningKey } from "../signing-keys/disable-signing-key.ts";
import { refused } from "./issue-bootstrap-certificate.ts";
import { type IssueRequest, lockCertifiedKeys, prepare, store } from "./issue-certificate.ts";

export type IssueBatchInput = { caller: ApiCaller; body: string; url: string | readonly string[]; idempotencyKey?: string; ip?: string };

export type BatchResult = {
  status: number;
  body: { certificates: { serial: string; deviceId: string; certificate: string }[]; chain: string[] };
  /** true when an Idempotency-Key matched a stored result */
  replayed: boolean;
};

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export async function issueClientTlsBatch(input: IssueBatchInput): Promise<BatchResult> {
  const { caller } = input;
  const started = performance.now();
  let kid: string | undefined;
  try {
    requireAdmin(caller);
    if (input.idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(input.idempotencyKey))
      throw new AppError("idempotency_key_invalid", "Idempotency-Key must be 1–255 printable ASCII characters", 400);
    await limitClient("batch", caller.clientId);
    const [jws] = parseJwsBody(input.body);
    const verified = await verifyKeySigned(jws, caller.user.id);
    kid = verified.kid;
    // A retry is a new signed request (fresh nonce and iat): it passes every check before its stored answer is returned.
    const payload = await acceptPayload(
      { scope: verified.kid, header: verified.header, payload: verified.payload },
      manufacturingPayloadSchema,
      input.url,
    );
    const requestHash = hashCsrs(payload.csrs);
    const idempotencyKey = input.idempotencyKey;
    const signedBy = verified.kid;
    /** The stored answer of an earlier request with this Idempotency-Key, if any (for other CSRs: 422). */
    const replay = async (client: Tx = db()): Promise<BatchResult | null> => {
      if (idempotencyKey === undefined) return null;
      const stored = await client.idempotencyRecord.findUnique({
        where: { customerId_key: { customerId: caller.customerId, key: idempotencyKey } },
      });
      if (!stored) return null;
      if (stored.requestHash !== requestHash)
        throw new AppError("idempotency_key_reused", "this Idempotency-Key was used with different CSRs", 422);
      return { status: stored.status, body: stored.response as BatchResult["body"], replayed: true };
    };
    const issue = async (): Promise<BatchResult> => {
      const parsed = checkCsrs(payload.csrs);
      const deviceIds = parsed.map((p) => p.deviceId);
      // the customer-wide allow- and deny-lists hold for the devices of the factory too (SPEC §5)
      const policy = await effectivePolicy(caller.customerId, null);
      for (const [i, id] of deviceIds.entries()) await at(i, async () => checkDeviceLists(policy, id));
      const existing = await db().device.findFirst({
        where: { customerId: caller.customerId, deviceId: { in: deviceIds } },
        select: { deviceId: true },
      });
      if (existing) throw new AppError("device_exists", `device ${existing.deviceId} has already enrolled`, 409);
      const reused = await db().certificate.findFirst({
        where: { spkiSha256: { in: parsed.map((p) => p.csr.spkiSha256) } },
        select: { id: true },
      });
      if (reused) throw keyCertified();
      const requests: IssueRequest[] = parsed.map((p) => ({
        profile: "client-tls",
        csr: p.csr,
        customerId: caller.customerId,
        uid: caller.user.uid,
        device: "create",
        authorizedBy: `key:${verified.kid}`,
        actor: caller.actor,
      }));
      const prepared: Awaited<ReturnType<typeof prepare>>[] = [];
      for (const [i, req] of requests.entries()) prepared.push(await at(i, () => prepare(req)));
      const outcome = await db().$transaction(
        async (tx): Promise<BatchResult> => {
          // the key that signed the request is still active (a disabled one authorizes nothing more), and one
          // request per Idempotency-Key at a time: a retry of a batch still running waits here, then answers its result
          await lockActiveSigningKey(tx, caller.user.id, signedBy);
          if (idempotencyKey !== undefined) {
            await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`idempotency:${caller.customerId}:${idempotencyKey}`}, 0))`;
            const earlier = await replay(tx);
            if (earlier) return earlier;
          }
          // decided again under the keys' locks: a concurrent request (another batch, an EST enrollment) with
          // one of these keys either committed already and is found here, or waits until this one commits
          const certified = await lockCertifiedKeys(
            tx,
            parsed.map((p) => p.csr.spkiSha256),
          );
          if (certified.size) throw keyCertified();
          const records = [];
          for (const [i, req] of requests.entries()) records.push(await at(i, () => store(tx, req, prepared[i])));
          const result = {
            certificates: records.map((r, i) => ({ serial: r.serialHex, deviceId: deviceIds[i], certificate: r.pem })),
            chain: records[0].chainPem,
          };
          if (idempotencyKey !== undefined) {
            await tx.idempotencyRecord.create({
              data: { customerId: caller.customerId, key: idempotencyKey, requestHash, status: 201, response: result },
            });
          }
          return { status: 201, body: result, replayed: false };
        },
        { timeout: 300_000, maxWait: 60_000 },
      );
      if (!outcome.replayed) {
        metrics.certificatesIssued.inc({ profile: "client-tls" }, requests.length);
        metrics.issueSeconds.observe({ profile: "client-tls-batch" }, (performance.now() - started) / 1000);
      }
      return outcome;
    };
    const earlier = await replay();
    if (earlier) return earlier;
    try {
      return await issue();
    } catch (e) {
      // the request with this key that was still running when this one began committed meanwhile: this one's
      // "device exists" or "key certified" is that request's doing, and its answer is the one to give
      const late = e instanceof AppError && e.status === 409 ? await replay() : null;
      if (late) return late;
      throw e;
    }
  } catch (e) {
    const err = isUniqueViolation(e)
      ? new AppError("conflict", "a device, key or Idempotency-Key of this batch was stored concurrently; retry", 409)
      : e;
    await refused(caller, "client-tls", err, kid, input.ip);
    throw err;
  }
}

const keyCertified = () => new AppError("csr_key_reused", "a CSR's key is already certified", 409);

function hashCsrs(csrs: unknown): string {
  return createHash("sha256")
    .update(JSON.stringify(Array.isArray(csrs) ? csrs : null))
    .digest("hex");
}

/** Parse every CSR (size, signature, key policy, device id) and refuse duplicates inside the batch. */
function checkCsrs(csrs: string[]): { csr: ParsedCsr; deviceId: string }[] {
  const ids = new Set<string>();
  const keys = new Set<string>();
  return csrs.map((pem, i) => {
    if (Buffer.byteLength(pem) > API_LIMITS.csrBytes)
      throw new AppError("csr_too_large", `csrs[${i}]: a CSR may be at most ${API_LIMITS.csrBytes} bytes`, 400);
    const csr = withIndex(i, () => parseCsr(pem));
    const deviceId = withIndex(i, () => requireDeviceId(csr));
    if (ids.has(deviceId)) throw new AppError("device_id_duplicate", `csrs[${i}]: device id ${deviceId} appears twice in this batch`, 400);
    if (keys.has(csr.spkiSha256)) throw new AppError("csr_key_reused", `csrs[${i}]: the same key appears twice in this batch`, 400);
    ids.add(deviceId);
    keys.add(csr.spkiSha256);
    return { csr, deviceId };
  });
}

function indexed(i: number, e: unknown): unknown {
  if (e instanceof AppError) return new AppError(e.code, `csrs[${i}]: ${e.message}`, e.status);
  return e;
}

function withIndex<T>(i: number, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw indexed(i, e);
  }
}

async function at<T>(i: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw indexed(i, e);
  }
}
