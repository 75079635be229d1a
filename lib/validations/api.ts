// Schemas of the customer API (SPEC §4): they validate requests in the use cases and generate the
// OpenAPI description (lib/api/openapi.ts), so the two cannot drift.
import { z } from "zod";
import { revocationReasonSchema as pkiRevocationReasonSchema } from "../pki/crl.ts";
import { DEVICE_ID_PATTERN } from "../pki/names.ts";
import { dateTimeSchema, hasNoNul, NUL_MESSAGE } from "./common.ts";
import { ENROLL_RATE_MAX } from "./enrollment.ts";
import { MAX_EXPIRING_DAYS } from "./fleet.ts";

export const API_LIMITS = {
  /** request bodies (SPEC §7) */
  bodyBytes: 64 * 1024,
  /** manufacturing batches */
  batchBodyBytes: 2 * 1024 * 1024,
  batchCsrs: 1000,
  /** one CSR (PEM) inside a signed payload */
  csrBytes: 8 * 1024,
  /** how far a payload's iat may be from the server's clock */
  iatSkewSeconds: 300,
  /** access token lifetime (≤ 900 s, SPEC §4) */
  tokenTtlSeconds: 900,
  devicesPageMax: 100,
} as const;

/** JWS algorithms a payload-signing key may use (SPEC §4). */
export const JWS_ALGORITHMS = ["ES256", "ES384", "EdDSA", "RS256"] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

const base64url = z.string().regex(/^[A-Za-z0-9_-]*$/, "must be base64url without padding");

/** A payload-signing key's kid: its RFC 7638 thumbprint, base64url. A kid of any other form names no key. */
export const KID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

// ---- errors ---------------------------------------------------------------------------------------

export const apiErrorSchema = z
  .object({
    error: z.object({ code: z.string().describe("stable machine-readable code, e.g. csr_invalid_signature"), message: z.string() }),
  })
  .meta({ id: "Error" });

export const oauthErrorSchema = z
  .object({
    error: z.enum(["invalid_request", "invalid_client", "unsupported_grant_type", "invalid_scope", "rate_limited"]),
    error_description: z.string().optional(),
  })
  .meta({ id: "OAuthError", description: "RFC 6749 §5.2" });

// ---- OAuth 2.0 client credentials -----------------------------------------------------------------

export const tokenRequestSchema = z
  .object({
    grant_type: z.string().max(64).describe('must be "client_credentials"'),
    client_id: z.string().max(200).refine(hasNoNul, NUL_MESSAGE).optional().describe("when not sent with HTTP Basic"),
    client_secret: z.string().max(200).refine(hasNoNul, NUL_MESSAGE).optional().describe("when not sent with HTTP Basic"),
    scope: z.string().max(1000).optional().describe("ignored"),
  })
  .meta({ id: "TokenRequest" });

export const tokenResponseSchema = z
  .object({
    access_token: z.string(),
    token_type: z.literal("Bearer"),
    expires_in: z.number().int().max(API_LIMITS.tokenTtlSeconds),
  })
  .meta({ id: "TokenResponse" });

// ---- JWS envelopes --------------------------------------------------------------------------------

export const compactJwsSchema = z
  .string()
  .max(API_LIMITS.batchBodyBytes * 2)
  .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/, "must be a compact JWS (three base64url parts)")
  .meta({ id: "CompactJws", description: "RFC 7515 §7.1 compact serialization (body as text, Content-Type: application/jose)" });

export const flattenedJwsSchema = z
  .strictObject({ protected: base64url.min(1).max(16 * 1024), payload: base64url, signature: base64url.min(1).max(2048) })
  .meta({ id: "FlattenedJws", description: "RFC 7515 §7.2.2 flattened JSON serialization; no unprotected header" });

export const generalJwsSchema = z
  .strictObject({
    payload: base64url,
    signatures: z
      .array(z.strictObject({ protected: base64url.min(1).max(16 * 1024), signature: base64url.min(1).max(2048) }))
      .min(1)
      .max(2),
  })
  .meta({
    id: "GeneralJws",
    description:
      "RFC 7515 §7.2.1 general JSON serialization: one payload signed by the new key (jwk header) and by an existing active key of the user (kid header)",
  });

/** What a signed request body is: compact or flattened (SPEC §4). */
export const signedBodySchema = z.union([compactJwsSchema, flattenedJwsSchema]).meta({ id: "SignedBody" });
/** A key registration may also use the general serialization, to carry the authorizing second signature. */
export const keyRegistrationBodySchema = z
  .union([compactJwsSchema, flattenedJwsSchema, generalJwsSchema])
  .meta({ id: "KeyRegistrationBody" });

export const protectedHeaderSchema = z
  .object({
    alg: z.enum(JWS_ALGORITHMS),
    kid: z
      .string()
      .regex(KID_PATTERN)
      .optional()
      .describe("the RFC 7638 thumbprint of a registered key (every request but a key's own proof of possession)"),
    jwk: z.record(z.string(), z.unknown()).optional().describe("the public key being registered (key registration only)"),
    url: z.string().max(2048).optional().describe("if present, must equal the endpoint's URL"),
  })
  .meta({ id: "ProtectedHeader" });

// ---- signed payloads ------------------------------------------------------------------------------

const nonce = z
  .string()
  .min(16)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces")
  .describe("unique per key; a nonce seen before is refused (replay)");
const iat = z.number().int().nonnegative().describe("unix seconds; at most 300 s from the server's clock");
const deviceId = z.string().regex(DEVICE_ID_PATTERN, "device id must match ^[A-Za-z0-9.:-]{1,64}$");
const csrPem = z.string().min(1).describe("PKCS#10 request, PEM (≤ 8 KiB)");
const enrollRate = z.number().int().min(0).max(ENROLL_RATE_MAX);

export const keyRegistrationPayloadSchema = z
  .object({
    nonce,
    iat,
    newKid: z
      .string()
      .max(128)
      .optional()
      .describe("the new key's RFC 7638 thumbprint: required when an existing key co-signs the registration"),
  })
  .strict()
  .meta({ id: "KeyRegistrationPayload" });

export const bootstrapPayloadSchema = z
  .object({
    csr: csrPem,
    nonce,
    iat,
    expectedDeviceIds: z.array(deviceId).max(10_000).optional().describe("enrollment policy: allow-list of device ids"),
    maxEnrollments: z.number().int().min(1).max(10_000_000).optional().describe("enrollment policy: at most this many devices"),
    enrollUntil: dateTimeSchema.optional().describe("enrollment policy: enroll only until this time"),
    enrollRatePerMinute: enrollRate.optional().describe("enrollment policy: simpleenroll attempts per minute (0: no limit)"),
  })
  .meta({ id: "BootstrapPayload" });

export const manufacturingPayloadSchema = z
  .object({ csrs: z.array(csrPem).min(1).max(API_LIMITS.batchCsrs), nonce, iat })
  .meta({ id: "ManufacturingPayload" });

// ---- responses ------------------------------------------------------------------------------------

export const signingKeySchema = z
  .object({
    kid: z.string(),
    alg: z.enum(JWS_ALGORITHMS),
    jwk: z.record(z.string(), z.unknown()),
    createdAt: z.iso.datetime(),
    disabledAt: z.iso.datetime().nullable(),
  })
  .meta({ id: "PayloadSigningKey" });

export const signingKeyListSchema = z.object({ keys: z.array(signingKeySchema) }).meta({ id: "PayloadSigningKeyList" });

export const issuedCertificateSchema = z
  .object({
    certificate: z.string().describe("PEM"),
    chain: z.array(z.string()).describe("PEM, issuer first, root last"),
    serial: z.string().describe("lowercase hex"),
  })
  .meta({ id: "IssuedCertificate" });

export const batchResponseSchema = z
  .object({
    certificates: z.array(z.object({ serial: z.string(), deviceId: z.string(), certificate: z.string() })).describe("in request order"),
    chain: z.array(z.string()).describe("PEM, issuer first, root last"),
  })
  .meta({ id: "ManufacturingBatch" });

export const certificateStatusSchema = z.enum(["active", "revoked", "expired"]);

export const certificateDetailSchema = z
  .object({
    serial: z.string(),
    kind: z.string(),
    profile: z.string(),
    subject: z.string(),
    uid: z.string().nullable(),
    deviceId: z.string().nullable(),
    issuer: z.object({ id: z.string(), subject: z.string() }),
    notBefore: z.iso.datetime(),
    notAfter: z.iso.datetime(),
    status: certificateStatusSchema,
    revokedAt: z.iso.datetime().nullable(),
    revocationReason: z.string().nullable(),
    pem: z.string(),
  })
  .meta({ id: "Certificate" });

export const deviceSchema = z
  .object({
    deviceId: z.string(),
    status: z
      .enum(["active", "revoked", "expired", "quarantined", "none"])
      .describe(
        "of the device's newest Client TLS certificate (revoked: also a decommissioned device; quarantined: enrolled by a quarantined bootstrapping certificate)",
      ),
    enrolledAt: z.iso.datetime(),
    lastRotatedAt: z.iso.datetime(),
    rotationOverdue: z.boolean().describe("the current Client TLS certificate is older than 30 days"),
    serial: z.string().nullable().describe("serial of the newest Client TLS certificate"),
    uid: z.string().nullable(),
    notAfter: z.iso.datetime().nullable(),
  })
  .meta({ id: "Device" });

export const devicePageSchema = z
  .object({ devices: z.array(deviceSchema), nextCursor: z.string().nullable().describe("pass as ?cursor= for the next page") })
  .meta({ id: "DevicePage" });

export const deviceQuerySchema = z
  .object({
    uid: z
      .string()
      .min(1)
      .max(200)
      .refine(hasNoNul, NUL_MESSAGE)
      .optional()
      .describe("only devices whose current certificate carries this UID"),
    q: z
      .string()
      .min(1)
      .max(128)
      .refine(hasNoNul, NUL_MESSAGE)
      .optional()
      .describe("device id (exact or prefix), UID or certificate serial"),
    status: z.enum(["active", "revoked", "expired", "quarantined"]).optional(),
    expiring: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_EXPIRING_DAYS)
      .optional()
      .describe("only devices whose current certificate expires within this many days (then sorted by expiry, soonest first)"),
    cursor: z.string().max(200).optional().describe("nextCursor of the previous page"),
    limit: z.coerce.number().int().min(1).max(API_LIMITS.devicesPageMax).default(50),
  })
  .meta({ id: "DeviceQuery" });

export const revocationReasonSchema = pkiRevocationReasonSchema.meta({ id: "RevocationReason" });

export const revokeRequestSchema = z.strictObject({ reason: revocationReasonSchema.default("unspecified") }).meta({ id: "RevokeRequest" });

export const resetDeviceRequestSchema = z
  .strictObject({
    reason: revocationReasonSchema
      .default("superseded")
      .describe("recorded on every certificate the device held (keyCompromise for a suspected clone)"),
    bootstrapSerial: z
      .string()
      .regex(/^(0x)?[0-9A-Fa-f:]{1,80}$/, "not a certificate serial")
      .optional()
      .describe("the bootstrapping certificate the device re-enrolls with; default: the one that enrolled it"),
  })
  .meta({ id: "ResetDeviceRequest" });

export const deviceResetSchema = z.object({ deviceId: z.string(), certificatesRevoked: z.number().int() }).meta({ id: "DeviceReset" });

export const revokeBootstrapRequestSchema = z
  .strictObject({
    reason: revocationReasonSchema.default("keyCompromise"),
    alsoRevokeDevicesEnrolledAfter: dateTimeSchema
      .optional()
      .describe(
        "also revoke every Client TLS certificate this bootstrapping certificate enrolled at or after this time, and the application certificates of those devices",
      ),
  })
  .meta({ id: "RevokeBootstrapRequest" });

export const revokeResponseSchema = z
  .object({ serial: z.string(), revokedAt: z.iso.datetime(), reason: revocationReasonSchema })
  .meta({ id: "Revocation" });

export const revokeBootstrapResponseSchema = z
  .object({
    serial: z.string(),
    revokedAt: z.iso.datetime(),
    reason: revocationReasonSchema,
    alreadyRevoked: z.boolean(),
    revokedClientTlsSerials: z.array(z.string()),
    revokedApplicationSerials: z
      .array(z.string())
      .describe("the application certificates (c2pa) of the devices whose Client TLS certificates this call revoked"),
  })
  .meta({ id: "BootstrapRevocation" });

// ---- enrollment policy (SPEC §5: "set by API, CLI and portal") ---------------------------------------------

const deviceIdList = z.array(deviceId).max(10_000);

export const enrollmentPolicyUpdateSchema = z
  .strictObject({
    allowDeviceIds: deviceIdList.optional().describe("only these device ids may enroll; [] lifts the allow-list"),
    denyDeviceIds: deviceIdList.optional().describe("these device ids may never enroll"),
    maxEnrollments: z
      .number()
      .int()
      .min(0)
      .max(10_000_000)
      .nullable()
      .optional()
      .describe("at most this many devices (null: no budget); past it the bootstrapping certificate is quarantined"),
    enrollUntil: dateTimeSchema.nullable().optional().describe("enroll only until this time (null: no end)"),
    requireDeviceSecret: z.boolean().optional().describe("each device must present its one-time secret (CSR challengePassword)"),
    enrollRatePerMinute: enrollRate
      .nullable()
      .optional()
      .describe(
        "simpleenroll attempts per minute of each bootstrapping certificate (or enrollment group); over it 429. 0: no limit; null: inherit (a certificate: the customer-wide value; the customer: the server default)",
      ),
  })
  .meta({ id: "EnrollmentPolicyUpdate" });

export const enrollmentPolicySchema = z
  .object({
    scope: z.string().describe('"customer" or "bootstrap:<serial>"'),
    allowDeviceIds: z.array(z.string()),
    denyDeviceIds: z.array(z.string()),
    maxEnrollments: z.number().int().nullable(),
    enrollUntil: z.iso.datetime().nullable(),
    requireDeviceSecret: z.boolean(),
    enrollRatePerMinute: z.number().int().nullable().describe("null: inherited"),
  })
  .meta({ id: "EnrollmentPolicy" });

export const enrollmentPoliciesSchema = z
  .object({
    policies: z.array(enrollmentPolicySchema),
    quarantined: z.array(z.object({ serial: z.string(), quarantinedAt: z.iso.datetime(), quarantineReason: z.string().nullable() })),
    defaultEnrollRatePerMinute: z.number().int().describe("the server's rate limit, for policies that all inherit (0: no limit)"),
  })
  .meta({ id: "EnrollmentPolicies" });

export const deviceSecretRequestSchema = z
  .strictObject({
    secret: z
      .string()
      .min(16)
      .max(128)
      .optional()
      .describe("the device's one-time secret (CSR challengePassword); default: a random one, returned once"),
  })
  .meta({ id: "DeviceSecretRequest" });

export const deviceSecretSchema = z
  .object({ deviceId: z.string(), secret: z.string().describe("shown once: only its hash is kept") })
  .meta({ id: "DeviceSecret" });

export const releaseResponseSchema = z.object({ serial: z.string(), released: z.literal(true) }).meta({ id: "BootstrapRelease" });

// Changes that would relax the defences against a leaked bootstrapping key are signed payloads, like issuance:
// a stolen client secret alone cannot make them (SPEC §4's rule for keys).
export const enrollmentPolicyPayloadSchema = enrollmentPolicyUpdateSchema.extend({ nonce, iat }).meta({ id: "EnrollmentPolicyPayload" });
export const releasePayloadSchema = z.strictObject({ nonce, iat }).meta({ id: "ReleasePayload" });
export const deviceSecretPayloadSchema = deviceSecretRequestSchema.extend({ nonce, iat }).meta({ id: "DeviceSecretPayload" });
