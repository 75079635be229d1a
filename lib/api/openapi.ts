// The OpenAPI 3.1 description of the customer API, generated from the zod schemas that validate the
// requests (lib/validations/api.ts): components come from z.toJSONSchema, paths are written here.
import { z } from "zod";
import { RATE_LIMITS, type RateLimitKind } from "../data/api/rate-limit.ts";
import * as schemas from "../validations/api.ts";
import { API_LIMITS } from "../validations/api.ts";

const REF = (id: string) => ({ $ref: `#/components/schemas/${id}` });

function components(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const value of Object.values(schemas)) {
    if (!(value instanceof z.ZodType)) continue;
    const id = z.globalRegistry.get(value)?.id;
    if (typeof id === "string" && !registry.has(value)) registry.add(value, { id });
  }
  const out = z.toJSONSchema(registry, { io: "input", unrepresentable: "any", uri: (id) => `#/components/schemas/${id}` });
  const result: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(out.schemas)) {
    const { $schema: _s, $id: _i, ...rest } = schema as Record<string, unknown>;
    result[id] = rest;
  }
  return result;
}

const error = (description: string) => ({ description, content: { "application/json": { schema: REF("Error") } } });
const ok = (description: string, schema: string) => ({ description, content: { "application/json": { schema: REF(schema) } } });
const bearer = [{ bearer: [] }];
const serialParam = { name: "serial", in: "path", required: true, schema: { type: "string", pattern: "^(0x)?[0-9A-Fa-f:]{1,80}$" } };

const rate = (kind: RateLimitKind) => {
  const [n, seconds] = RATE_LIMITS[kind];
  return seconds === 60 ? `${n}/min` : `${n} per ${seconds} s`;
};

const COMMON_ERRORS = {
  "400": error("invalid input (see error.code)"),
  "401": error("invalid_token: missing, invalid or expired access token"),
  "413": error("body_too_large"),
  "429": error(
    `rate_limited (Retry-After header): every request counts against one limit of its client — reads ${rate("read")}, ` +
      `bootstrap issuance ${rate("issue")}, manufacturing batches ${rate("batch")}, key registrations and disablings ${rate("keys")}, ` +
      `any other change ${rate("change")} — and against its user's ${rate("user")}, whichever of the user's clients calls`,
  ),
};

const VIEWER = "forbidden (a viewer's token)";

const signedBody = (schema: string, payload: string, extra = "") => ({
  required: true,
  description: `A JWS signed by an active payload-signing key of the token's user: protected header {"alg", "kid", "url"?}, payload ${payload}. ${extra}`,
  content: {
    "application/jose+json": { schema: REF("FlattenedJws") },
    "application/json": { schema: REF("FlattenedJws") },
    "application/jose": { schema: REF("CompactJws") },
  },
  "x-payload-schema": REF(schema),
});

const SIGNED_PAYLOAD_ERRORS =
  "Refusals of the signed payload: jws_malformed, jws_alg_not_allowed (none, HS256…), jws_header_invalid, jws_kid_missing, key_unknown (403; also another user's kid), " +
  "key_disabled (403), jws_alg_mismatch, jws_invalid_signature, nonce_invalid, nonce_replayed (409), iat_invalid, iat_out_of_range (±300 s), url_mismatch, payload_invalid. " +
  "Once the signature verifies, (kid, nonce) is stored: a refused request still consumes its nonce.";

/** The OpenAPI document (built once per process). */
let cached: Record<string, unknown> | undefined;
export function openApiDocument(serverUrl: string): Record<string, unknown> {
  cached ??= build();
  return { ...cached, servers: [{ url: `${serverUrl}/api/v1` }] };
}

function build(): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: {
      title: "PSS Certificate Signing Service — customer API",
      version: "1",
      description:
        "OAuth 2.0 client credentials for a short-lived bearer token; payload-signing keys registered with proof of possession; " +
        "bootstrapping certificates and manufacturing batches requested by JWS-signed payloads. Errors are " +
        '{"error": {"code", "message"}}; the token endpoint answers RFC 6749 §5.2 errors. ' +
        `Bodies are limited to ${API_LIMITS.bodyBytes} bytes (${API_LIMITS.batchBodyBytes} for manufacturing batches). See docs/API.md for a worked example.`,
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    components: {
      schemas: components(),
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
        clientCredentials: { type: "oauth2", flows: { clientCredentials: { tokenUrl: "/api/v1/oauth/token", scopes: {} } } },
      },
    },
    paths: {
      "/oauth/token": {
        post: {
          summary: "Get an access token (client credentials)",
          description: "HTTP Basic (client_id:client_secret) or client_id/client_secret in the form body. expires_in ≤ 900.",
          security: [],
          requestBody: { required: true, content: { "application/x-www-form-urlencoded": { schema: REF("TokenRequest") } } },
          responses: {
            "200": ok("the token", "TokenResponse"),
            "400": {
              description: "invalid_request, unsupported_grant_type",
              content: { "application/json": { schema: REF("OAuthError") } },
            },
            "401": { description: "invalid_client", content: { "application/json": { schema: REF("OAuthError") } } },
            "429": { description: "rate_limited", content: { "application/json": { schema: REF("OAuthError") } } },
          },
        },
      },
      "/payload-signing-keys": {
        get: {
          summary: "List the user's payload-signing keys",
          security: bearer,
          responses: { "200": ok("keys", "PayloadSigningKeyList"), ...COMMON_ERRORS },
        },
        post: {
          summary: "Register a payload-signing key (proof of possession)",
          description:
            'The body is a JWS signed by the new key: protected header {"alg": ES256|ES384|EdDSA|RS256, "jwk": <public JWK>, "url"?}, payload {"nonce", "iat"}. ' +
            "kid is the RFC 7638 SHA-256 thumbprint of the JWK. The user's first key needs only the bearer token. Any further key must ALSO be signed by an " +
            'existing active key of the user: send the general JSON serialization {"payload", "signatures": [{"protected": <jwk header>, "signature"}, ' +
            '{"protected": {"alg", "kid": <existing kid>}, "signature"}]} — both signatures over the same payload. Refusals: jwk_missing, jwk_private, jwk_invalid, ' +
            "jwk_alg_mismatch, key_weak (RSA < 2048 or > 4096 bits, e ≠ 65537), key_authorization_required (403), key_exists (409), and the signed-payload errors: " +
            SIGNED_PAYLOAD_ERRORS,
          security: bearer,
          requestBody: {
            required: true,
            content: {
              "application/jose+json": { schema: REF("KeyRegistrationBody") },
              "application/json": { schema: REF("KeyRegistrationBody") },
              "application/jose": { schema: REF("CompactJws") },
            },
            "x-payload-schema": REF("KeyRegistrationPayload"),
          },
          responses: {
            "201": ok("registered", "PayloadSigningKey"),
            ...COMMON_ERRORS,
            "403": error(`key_authorization_required, ${VIEWER}`),
            "409": error("key_exists, nonce_replayed"),
          },
        },
      },
      "/payload-signing-keys/{kid}": {
        delete: {
          summary: "Disable a payload-signing key (final)",
          security: bearer,
          parameters: [{ name: "kid", in: "path", required: true, schema: { type: "string" } }],
          responses: { "200": { description: "disabled" }, ...COMMON_ERRORS, "403": error(VIEWER), "404": error("key_not_found") },
        },
      },
      "/bootstrap-certificates": {
        post: {
          summary: "Issue a bootstrapping certificate",
          description:
            "SAN UID = the token's user; authorizedBy = key:<kid>. Optional payload fields expectedDeviceIds, maxEnrollments, enrollUntil, enrollRatePerMinute set this certificate's enrollment policy. " +
            "CSR refusals carry the signing core's codes (csr_malformed, csr_invalid_signature, csr_weak_key, csr_san_not_allowed, csr_san_incomplete, csr_ca_requested, csr_critical_extension_unknown, csr_too_large). " +
            SIGNED_PAYLOAD_ERRORS,
          security: bearer,
          requestBody: signedBody(
            "BootstrapPayload",
            '{"csr", "nonce", "iat", "expectedDeviceIds"?, "maxEnrollments"?, "enrollUntil"?, "enrollRatePerMinute"?}',
          ),
          responses: {
            "201": ok("issued", "IssuedCertificate"),
            ...COMMON_ERRORS,
            "403": error(`key_unknown, key_disabled, ${VIEWER}`),
            "409": error("nonce_replayed"),
          },
        },
      },
      "/bootstrap-certificates/{serial}/revoke": {
        post: {
          summary: "Revoke a bootstrapping certificate (and, after a moment, what it enrolled: those devices' certificates)",
          security: bearer,
          parameters: [serialParam],
          requestBody: { content: { "application/json": { schema: REF("RevokeBootstrapRequest") } } },
          responses: {
            "200": ok("revoked", "BootstrapRevocation"),
            ...COMMON_ERRORS,
            "403": error(VIEWER),
            "404": error("certificate_not_found (also another customer's)"),
            "409": error("already_revoked"),
          },
        },
      },
      "/manufacturing/client-tls-certificates": {
        post: {
          summary: "Issue Client TLS certificates for up to 1000 new devices (all or nothing)",
          description:
            "Device ids come from each CSR's subject (serialNumber, else CN). An Idempotency-Key header makes a retry (even re-signed with a new nonce) return the stored answer " +
            "(Idempotent-Replayed: true); the same key with other CSRs → 422 idempotency_key_reused. Refusals name the CSR: csrs[i]: …; device_id_duplicate and csr_key_reused (400) for an id or key that appears twice in the batch, " +
            "device_exists (409) and csr_key_reused (409) for one already enrolled or certified. " +
            SIGNED_PAYLOAD_ERRORS,
          security: bearer,
          parameters: [{ name: "Idempotency-Key", in: "header", required: false, schema: { type: "string", maxLength: 255 } }],
          requestBody: signedBody(
            "ManufacturingPayload",
            '{"csrs": [PEM…], "nonce", "iat"}',
            `Body ≤ ${API_LIMITS.batchBodyBytes} bytes, each CSR ≤ ${API_LIMITS.csrBytes} bytes.`,
          ),
          responses: {
            "201": ok("issued, in request order", "ManufacturingBatch"),
            ...COMMON_ERRORS,
            "403": error(`key_unknown, key_disabled, ${VIEWER}`),
            "409": error("device_exists, csr_key_reused (a key already certified), nonce_replayed, conflict (stored concurrently: retry)"),
            "422": error("idempotency_key_reused"),
          },
        },
      },
      "/devices": {
        get: {
          summary: "List the customer's devices (keyset pagination)",
          security: bearer,
          parameters: ["uid", "q", "status", "expiring", "cursor", "limit"].map((name) => ({
            name,
            in: "query",
            required: false,
            schema: { $ref: `#/components/schemas/DeviceQuery/properties/${name}` },
          })),
          responses: { "200": ok("one page", "DevicePage"), ...COMMON_ERRORS },
        },
      },
      "/devices/{deviceId}/reset": {
        post: {
          summary: "Reset a device id: revoke every certificate it holds and let its next simpleenroll re-enroll it, once",
          security: bearer,
          parameters: [{ name: "deviceId", in: "path", required: true, schema: { type: "string", pattern: "^[A-Za-z0-9.:-]{1,64}$" } }],
          requestBody: { content: { "application/json": { schema: REF("ResetDeviceRequest") } } },
          responses: {
            "200": ok("reset", "DeviceReset"),
            ...COMMON_ERRORS,
            "403": error(VIEWER),
            "404": error("device_not_found (also another customer's), certificate_not_found (bootstrapSerial)"),
            "409": error("already_reset, not_reset (re-enrolled meanwhile), bootstrap_unusable"),
          },
        },
      },
      "/enrollment-policy": {
        get: {
          summary:
            "The customer's enrollment policies (customer-wide and per bootstrapping certificate) and quarantined bootstrapping certificates",
          security: bearer,
          responses: { "200": ok("the policies", "EnrollmentPolicies"), ...COMMON_ERRORS },
        },
        put: {
          summary: "Set the customer-wide enrollment policy (fields left out keep their value)",
          description:
            "enrollRatePerMinute limits the simpleenroll attempts of each bootstrapping certificate and enrollment group per minute (0: no limit; null: the server default, defaultEnrollRatePerMinute of GET).",
          security: bearer,
          requestBody: signedBody(
            "EnrollmentPolicyPayload",
            "{nonce, iat, allowDeviceIds?, denyDeviceIds?, maxEnrollments?, enrollUntil?, requireDeviceSecret?, enrollRatePerMinute?}",
            SIGNED_PAYLOAD_ERRORS,
          ),
          responses: { "200": ok("the policy as stored", "EnrollmentPolicy"), ...COMMON_ERRORS, "403": error(VIEWER) },
        },
      },
      "/bootstrap-certificates/{serial}/policy": {
        put: {
          summary: "Set one bootstrapping certificate's enrollment policy (it adds to the customer-wide one)",
          description:
            "This certificate's budget, end date and enrollRatePerMinute win over the customer-wide ones (enrollRatePerMinute null: inherit the customer-wide value; 0: no limit).",
          security: bearer,
          parameters: [serialParam],
          requestBody: signedBody(
            "EnrollmentPolicyPayload",
            "{nonce, iat, allowDeviceIds?, denyDeviceIds?, maxEnrollments?, enrollUntil?, requireDeviceSecret?, enrollRatePerMinute?}",
            SIGNED_PAYLOAD_ERRORS,
          ),
          responses: {
            "200": ok("the policy as stored", "EnrollmentPolicy"),
            ...COMMON_ERRORS,
            "403": error(VIEWER),
            "404": error("certificate_not_found (also another customer's)"),
          },
        },
      },
      "/bootstrap-certificates/{serial}/release": {
        post: {
          summary: "Release a quarantined bootstrapping certificate",
          security: bearer,
          parameters: [serialParam],
          requestBody: signedBody("ReleasePayload", "{nonce, iat}", SIGNED_PAYLOAD_ERRORS),
          responses: {
            "200": ok("released", "BootstrapRelease"),
            ...COMMON_ERRORS,
            "403": error(VIEWER),
            "404": error("certificate_not_found (also another customer's)"),
            "409": error("not_quarantined"),
          },
        },
      },
      "/devices/{deviceId}/secret": {
        post: {
          summary: "Register a device's one-time enrollment secret (CSR challengePassword); the secret is answered once",
          security: bearer,
          parameters: [{ name: "deviceId", in: "path", required: true, schema: { type: "string", pattern: "^[A-Za-z0-9.:-]{1,64}$" } }],
          requestBody: signedBody("DeviceSecretPayload", "{nonce, iat, secret?}", SIGNED_PAYLOAD_ERRORS),
          responses: { "201": ok("registered", "DeviceSecret"), ...COMMON_ERRORS, "403": error(VIEWER) },
        },
      },
      "/certificates/{serial}": {
        get: {
          summary: "One certificate",
          security: bearer,
          parameters: [serialParam],
          responses: {
            "200": ok("the certificate", "Certificate"),
            ...COMMON_ERRORS,
            "404": error("certificate_not_found (also another customer's)"),
          },
        },
      },
      "/certificates/{serial}/revoke": {
        post: {
          summary: "Revoke a certificate",
          security: bearer,
          parameters: [serialParam],
          requestBody: { content: { "application/json": { schema: REF("RevokeRequest") } } },
          responses: {
            "200": ok("revoked", "Revocation"),
            ...COMMON_ERRORS,
            "403": error(VIEWER),
            "404": error("certificate_not_found (also another customer's)"),
            "409": error("already_revoked"),
          },
        },
      },
      "/openapi.json": { get: { summary: "This document", security: [], responses: { "200": { description: "OpenAPI 3.1" } } } },
    },
  };
}
