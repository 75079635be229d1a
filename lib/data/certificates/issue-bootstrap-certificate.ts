// POST /api/v1/bootstrap-certificates (SPEC §4): a bootstrapping certificate for the calling user, authorized
// by a JWS of one of the user's active payload-signing keys. Optional policy fields of the payload become this
// certificate's enrollment policy (SPEC §5), stored in the same transaction as the certificate.

import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { metrics } from "../../metrics.ts";
import { API_LIMITS, bootstrapPayloadSchema } from "../../validations/api.ts";
import { type ApiCaller, requireAdmin } from "../api/access-token.ts";
import { limitClient } from "../api/rate-limit.ts";
import { acceptPayload, parseJwsBody, verifyKeySigned } from "../api/signed-payload.ts";
import { audit } from "../audit/record.ts";
import { type IssueRequest, prepare, store } from "./issue-certificate.ts";

export type IssueBootstrapInput = { caller: ApiCaller; body: string; url: string | readonly string[]; ip?: string };

export async function issueBootstrapCertificate(input: IssueBootstrapInput) {
  const { caller } = input;
  const started = performance.now();
  let kid: string | undefined;
  try {
    requireAdmin(caller);
    await limitClient("issue", caller.clientId);
    await limitClient("user", caller.user.uid);
    const [jws] = parseJwsBody(input.body);
    const verified = await verifyKeySigned(jws, caller.user.id);
    kid = verified.kid;
    const payload = await acceptPayload(
      { scope: verified.kid, header: verified.header, payload: verified.payload },
      bootstrapPayloadSchema,
      input.url,
    );
    if (Buffer.byteLength(payload.csr) > API_LIMITS.csrBytes)
      throw new AppError("csr_too_large", `a CSR may be at most ${API_LIMITS.csrBytes} bytes`, 400);
    const enrollUntil = payload.enrollUntil ? new Date(payload.enrollUntil) : null;
    if (enrollUntil && enrollUntil.getTime() <= Date.now()) throw new AppError("policy_invalid", "enrollUntil must be in the future", 400);
    const req: IssueRequest = {
      profile: "bootstrap",
      csr: payload.csr,
      customerId: caller.customerId,
      uid: caller.user.uid,
      authorizedBy: `key:${verified.kid}`,
      actor: caller.actor,
    };
    const prepared = await prepare(req);
    const hasPolicy = payload.expectedDeviceIds !== undefined || payload.maxEnrollments !== undefined || enrollUntil !== null;
    const record = await db().$transaction(async (tx) => {
      const r = await store(tx, req, prepared);
      if (hasPolicy) {
        await tx.enrollmentPolicy.create({
          data: {
            customerId: caller.customerId,
            bootstrapCertId: r.id,
            allowDeviceIds: payload.expectedDeviceIds ?? [],
            denyDeviceIds: [],
            maxEnrollments: payload.maxEnrollments ?? null,
            enrollUntil,
          },
        });
      }
      return r;
    });
    metrics.certificatesIssued.inc({ profile: "bootstrap" });
    metrics.issueSeconds.observe({ profile: "bootstrap" }, (performance.now() - started) / 1000);
    return { certificate: record.pem, chain: record.chainPem, serial: record.serialHex };
  } catch (e) {
    await refused(caller, "bootstrap", e, kid, input.ip);
    throw e;
  }
}

/** Audit and count a refused API issuance (never throws). */
export async function refused(caller: ApiCaller, profile: string, e: unknown, kid: string | undefined, ip: string | undefined) {
  if (!(e instanceof AppError)) return;
  metrics.refusals.inc({ code: e.code });
  await audit(null, caller.actor, {
    action: "certificate.issue",
    outcome: "refused",
    customerId: caller.customerId,
    details: { profile, via: "api", code: e.code, message: e.message, uid: caller.user.uid, key: kid ?? null },
    ...(ip ? { ip } : {}),
  }).catch(() => {});
}
