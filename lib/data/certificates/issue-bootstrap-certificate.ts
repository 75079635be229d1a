// POST /api/v1/bootstrap-certificates (SPEC §4): a bootstrapping certificate for the calling user, authorized
// by a JWS of one of the user's active payload-signing keys. Optional policy fields of the payload become this
// certificate's enrollment policy (SPEC §5), stored in the same transaction as the certificate. The portal's
// request form (authorized by the signed-in admin) goes through the same issueBootstrapWithPolicy.

import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { metrics } from "../../metrics.ts";
import { API_LIMITS, bootstrapPayloadSchema } from "../../validations/api.ts";
import { type ApiCaller, requireAdmin } from "../api/access-token.ts";
import { limitClient } from "../api/rate-limit.ts";
import { acceptPayload, parseJwsBody, verifyKeySigned } from "../api/signed-payload.ts";
import { audit, markAudited } from "../audit/record.ts";
import { writePolicy } from "../enrollment/manage-policy.ts";
import { lockActiveSigningKey } from "../signing-keys/disable-signing-key.ts";
import { type IssueRequest, prepare, store } from "./issue-certificate.ts";

export type IssueBootstrapInput = { caller: ApiCaller; body: string; url: string | readonly string[]; ip?: string };

export async function issueBootstrapCertificate(input: IssueBootstrapInput) {
  const { caller } = input;
  let kid: string | undefined;
  try {
    requireAdmin(caller);
    await limitClient("issue", caller.clientId);
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
    const record = await issueBootstrapWithPolicy(
      {
        profile: "bootstrap",
        csr: payload.csr,
        customerId: caller.customerId,
        uid: caller.user.uid,
        authorizedBy: `key:${verified.kid}`,
        actor: caller.actor,
      },
      {
        signingKey: { userId: caller.user.id, kid: verified.kid },
        ...(payload.expectedDeviceIds !== undefined ? { expectedDeviceIds: payload.expectedDeviceIds } : {}),
        ...(payload.maxEnrollments !== undefined ? { maxEnrollments: payload.maxEnrollments } : {}),
        ...(payload.enrollRatePerMinute !== undefined ? { enrollRatePerMinute: payload.enrollRatePerMinute } : {}),
        ...(payload.enrollUntil ? { enrollUntil: new Date(payload.enrollUntil) } : {}),
      },
    );
    return { certificate: record.pem, chain: record.chainPem, serial: record.serialHex };
  } catch (e) {
    await refused(caller, "bootstrap", e, kid, input.ip);
    throw e;
  }
}

/** A bootstrapping certificate's own enrollment policy, given at issuance (SPEC §5). */
export type BootstrapPolicy = { expectedDeviceIds?: string[]; maxEnrollments?: number; enrollUntil?: Date; enrollRatePerMinute?: number };

/**
 * Sign a bootstrapping certificate, then store it, its enrollment policy (when any field is given) and their
 * audit events in one transaction: a certificate never exists without the policy it was requested with.
 */
export async function issueBootstrapWithPolicy(
  req: IssueRequest & { profile: "bootstrap" },
  { signingKey, ...policy }: BootstrapPolicy & { signingKey?: { userId: string; kid: string } },
) {
  const started = performance.now();
  if (policy.enrollUntil && policy.enrollUntil.getTime() <= Date.now())
    throw new AppError("policy_invalid", "enrollUntil must be in the future", 400);
  const hasPolicy = Object.values(policy).some((v) => v !== undefined);
  const prepared = await prepare(req);
  const record = await db().$transaction(async (tx) => {
    // the payload-signing key that authorized an API request is still active when its certificate is stored
    if (signingKey) await lockActiveSigningKey(tx, signingKey.userId, signingKey.kid);
    const r = await store(tx, req, prepared);
    if (hasPolicy && req.customerId)
      await writePolicy(
        tx,
        { customerId: req.customerId, bootstrapCertId: r.id, target: `certificate:${r.serialHex}` },
        {
          allowDeviceIds: policy.expectedDeviceIds ?? [],
          maxEnrollments: policy.maxEnrollments ?? null,
          enrollUntil: policy.enrollUntil ?? null,
          enrollRatePerMinute: policy.enrollRatePerMinute ?? null,
        },
        req.actor,
      );
    return r;
  });
  metrics.certificatesIssued.inc({ profile: "bootstrap" });
  metrics.issueSeconds.observe({ profile: "bootstrap" }, (performance.now() - started) / 1000);
  return record;
}

/**
 * The portal's request (SPEC §8): a bootstrapping certificate for the signed-in customer admin (their UID in the
 * SAN) from a CSR the browser built or the admin uploaded, with its policy; a refusal is audited like the API's.
 */
export async function issuePortalBootstrapCertificate(input: { caller: ApiCaller; csr: string; policy: BootstrapPolicy }) {
  const { caller } = input;
  try {
    requireAdmin(caller);
    return await issueBootstrapWithPolicy(
      {
        profile: "bootstrap",
        csr: input.csr,
        customerId: caller.customerId,
        uid: caller.user.uid,
        authorizedBy: `portal:${caller.user.uid}`,
        actor: caller.actor,
      },
      input.policy,
    );
  } catch (e) {
    await refused(caller, "bootstrap", e, undefined, undefined, "portal");
    throw e;
  }
}

/** Audit and count a refused API or portal issuance (never throws). */
export async function refused(
  caller: ApiCaller,
  profile: string,
  e: unknown,
  kid: string | undefined,
  ip: string | undefined,
  via: "api" | "portal" = "api",
) {
  if (!(e instanceof AppError)) return;
  markAudited(e);
  metrics.refusals.inc({ code: e.code });
  await audit(null, caller.actor, {
    action: "certificate.issue",
    outcome: "refused",
    customerId: caller.customerId,
    details: { profile, via, code: e.code, message: e.message, uid: caller.user.uid, key: kid ?? null },
    ...(ip ? { ip } : {}),
  }).catch(() => {});
}
