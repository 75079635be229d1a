// The one place that reads process.env: validated once, typed everywhere else.
import os from "node:os";
import path from "node:path";
import { z } from "zod";

// 0 asks the OS for a free port (tests).
const port = z.coerce.number().int().min(0).max(65535);
const optional = z.preprocess((v) => (v === "" ? undefined : v), z.string().optional());

// What measured best on the 2-core machines (docs/DEVICES.md, "Use both cores").
const DEVICE_WORKERS_DEFAULT = 0 as number | "auto";

const databaseUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === "postgresql:" || u.protocol === "postgres:") && u.hostname !== "" && u.pathname.length > 1;
  } catch {
    return false;
  }
}, "must look like postgresql://user:password@host:5432/database");

/** An https URL (plain http only on the loopback, for a local issuer): where tokens' keys come from. */
const secureUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return u.protocol === "https:" || (u.protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname));
  } catch {
    return false;
  }
}, "must be an https URL (http only on localhost)");

/** A base URL baked into every certificate (CRL and OCSP URLs): http(s), a host, no query or fragment. */
const publicUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "" && !u.search && !u.hash && !u.username;
  } catch {
    return false;
  }
}, "must be an http(s) URL such as http://pki.example.com (no query, fragment or credentials): it goes into every certificate");

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("production"),
  DATABASE_URL: z.preprocess((v) => (v === "" ? undefined : v), databaseUrl.optional()),
  PSS_DATA_DIR: z.string().default("./.data"),
  HOST: z.string().default("0.0.0.0"),
  PORT: port.default(3000),
  DEVICE_PORT: port.default(8443),
  /** device-listener worker processes: "auto" (one per core), or a count; 0 serves devices in the main process */
  DEVICE_WORKERS: z.preprocess(
    (v) => (v === "" || v === undefined ? undefined : v),
    z.union([z.literal("auto"), z.coerce.number().int().min(0).max(256)]).default(DEVICE_WORKERS_DEFAULT),
  ),
  /** device listener: open connections per listener process; more are closed on arrival */
  DEVICE_MAX_CONNECTIONS: z.preprocess((v) => (v === "" ? undefined : v), z.coerce.number().int().min(1).max(1_000_000).default(10_000)),
  /**
   * device listener: open connections per client address (IPv6 by /64) and listener process; 0: no cap. A factory
   * enrolls from behind one NAT address, each device holding its connection for its requests and at most 5 s idle
   * after them: 1,000 at once is some 170 devices a second, more than a production line runs, while one host can
   * hold no more than a tenth of the default DEVICE_MAX_CONNECTIONS.
   */
  DEVICE_MAX_CONNECTIONS_PER_ADDRESS: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.coerce.number().int().min(0).max(1_000_000).default(1_000),
  ),
  /** device listener: each request's headers and body must arrive within this (ms) */
  DEVICE_REQUEST_TIMEOUT_MS: z.preprocess((v) => (v === "" ? undefined : v), z.coerce.number().int().min(100).max(600_000).default(30_000)),
  /** device listener: the TLS handshake must complete within this of the TCP connection (ms; at most DEVICE_REQUEST_TIMEOUT_MS) */
  DEVICE_HANDSHAKE_TIMEOUT_MS: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.coerce.number().int().min(100).max(600_000).default(10_000),
  ),
  /** simpleenroll attempts per bootstrapping certificate (or enrollment group) and minute where no enrollment policy sets them; 0: no limit */
  DEVICE_ENROLL_RATE_PER_MINUTE: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.coerce.number().int().min(0).max(1_000_000).default(600),
  ),
  /** certificate requests (simplereenroll, application enroll and renew) per device and hour; 0: no limit */
  DEVICE_CERT_RATE_PER_HOUR: z.preprocess((v) => (v === "" ? undefined : v), z.coerce.number().int().min(0).max(1_000_000).default(60)),
  /** the web port (portal, customer API, OCSP, CRL): open connections; more are closed on arrival */
  WEB_MAX_CONNECTIONS: z.preprocess((v) => (v === "" ? undefined : v), z.coerce.number().int().min(1).max(1_000_000).default(10_000)),
  /** reverse proxies in front of the portal that append to X-Forwarded-For; 0: the socket's peer is the client */
  TRUST_PROXY_HOPS: z.preprocess((v) => (v === "" ? undefined : v), z.coerce.number().int().min(0).max(10).default(0)),
  /** when set, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` (a scraper's credential) */
  METRICS_TOKEN: z.preprocess((v) => (v === "" ? undefined : v), z.string().min(16, "must be at least 16 characters").optional()),
  PSS_PUBLIC_URL: z.preprocess((v) => (v === "" ? undefined : v), publicUrl.optional()),
  PSS_REVOCATION_URL: z.preprocess(
    (v) => (v === "" ? undefined : v),
    publicUrl.refine((v) => v.startsWith("http:"), "must be a plain http URL (SPEC §3: CRL and OCSP over http)").optional(),
  ),
  PSS_MASTER_KEY: optional,
  /** PKCS#11 key store (SPEC §2): the library, the token's label and its user PIN (or a file holding it) */
  PSS_PKCS11_MODULE: optional,
  PSS_PKCS11_TOKEN_LABEL: optional,
  PSS_PKCS11_PIN: optional,
  PSS_PKCS11_PIN_FILE: optional,
  PSS_ADMIN_EMAIL: z.preprocess((v) => (v === "" ? undefined : v), z.email().optional()),
  PSS_ADMIN_PASSWORD: optional,
  PSS_DEVICE_HOSTNAMES: z.string().default(""),
  PSS_SUBJECT_PREFIX: z.string().min(1).max(16).default("PSS"),
  /** the TLS Root CA's key (SPEC §2: P-256 by default, P-384 allowed for the root), for `pss init` and root rotations */
  PSS_ROOT_KEY_ALGORITHM: z.enum(["ECDSA-P256", "ECDSA-P384"]).default("ECDSA-P256"),
  NEXTAUTH_URL: optional,
  // it keys both the session cookies and the API's bearer tokens: short secrets fall to offline guessing
  NEXTAUTH_SECRET: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.string().min(32, "must be at least 32 characters (e.g. `openssl rand -base64 32`)").optional(),
  ),
  OIDC_ISSUER: optional,
  OIDC_CLIENT_ID: optional,
  OIDC_CLIENT_SECRET: optional,
  // the customer API's bearer tokens from an external OIDC issuer (lib/data/api/external-token.ts)
  API_OIDC_ISSUER: z.preprocess((v) => (v === "" ? undefined : v), secureUrl.optional()),
  API_OIDC_JWKS_URL: z.preprocess((v) => (v === "" ? undefined : v), secureUrl.optional()),
  API_OIDC_AUDIENCE: optional,
  API_OIDC_USER_CLAIM: z.string().min(1).default("email"),
  API_OIDC_USER_FIELD: z.enum(["email", "uid"]).default("email"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type Env = z.infer<typeof schema> & {
  /** absolute data directory (embedded database, generated secrets) */
  dataDir: string;
  /** true when no DATABASE_URL is set: PGlite in `${dataDir}/pglite` */
  embedded: boolean;
  /** the portal's and the API's public base URL (signed payloads' `url`, our tokens' issuer) */
  publicUrl: string;
  /** base of the CRL and OCSP URLs in certificates: plain http (PSS_REVOCATION_URL, else PSS_PUBLIC_URL) */
  revocationUrl: string;
  /** DEVICE_WORKERS resolved: 0 (the main process serves devices) or the number of worker processes */
  deviceWorkers: number;
};

export class ConfigError extends Error {
  readonly code = "config_invalid";
}

/** Parse an environment (defaults to process.env). Throws ConfigError with one readable line. */
export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`invalid configuration: ${issue.path.join(".")} ${issue.message}`);
  }
  const e = parsed.data;
  if (e.PSS_PKCS11_MODULE) {
    if (!e.PSS_PKCS11_TOKEN_LABEL)
      throw new ConfigError("invalid configuration: PSS_PKCS11_TOKEN_LABEL is required with PSS_PKCS11_MODULE");
    if (!e.PSS_PKCS11_PIN === !e.PSS_PKCS11_PIN_FILE)
      throw new ConfigError("invalid configuration: set one of PSS_PKCS11_PIN and PSS_PKCS11_PIN_FILE with PSS_PKCS11_MODULE");
  } else if (e.PSS_PKCS11_TOKEN_LABEL || e.PSS_PKCS11_PIN || e.PSS_PKCS11_PIN_FILE) {
    throw new ConfigError("invalid configuration: PSS_PKCS11_MODULE is required with the other PSS_PKCS11_ settings");
  }
  const publicUrl = (e.PSS_PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, "");
  if (e.API_OIDC_ISSUER && e.API_OIDC_ISSUER.replace(/\/+$/, "") === publicUrl)
    throw new ConfigError("invalid configuration: API_OIDC_ISSUER is an external issuer, not this service's own URL");
  // without an audience, a token the issuer made for any other application would open the API
  if (e.API_OIDC_ISSUER && !e.API_OIDC_AUDIENCE)
    throw new ConfigError("invalid configuration: API_OIDC_AUDIENCE is required with API_OIDC_ISSUER (the app client id the tokens name)");
  // CRLs and OCSP are fetched over plain http (SPEC §3): a relying party checking revocation cannot first need
  // a TLS connection whose own certificate's revocation it would have to check
  const revocationUrl = (e.PSS_REVOCATION_URL ?? publicUrl).replace(/\/+$/, "");
  if (!revocationUrl.startsWith("http:"))
    throw new ConfigError(
      "invalid configuration: PSS_PUBLIC_URL is https, so set PSS_REVOCATION_URL to the plain-http base that serves /crl and /ocsp (certificates name it)",
    );
  const dataDir = path.resolve(e.PSS_DATA_DIR);
  return {
    ...e,
    dataDir,
    embedded: !e.DATABASE_URL,
    publicUrl,
    revocationUrl,
    deviceWorkers: e.DEVICE_WORKERS === "auto" ? os.availableParallelism() : e.DEVICE_WORKERS,
  };
}

let cached: Env | undefined;

/** The process configuration, parsed on first use. */
export function env(): Env {
  cached ??= parseEnv();
  return cached;
}

/**
 * Change settings of this process only (benchmarks: `pss bench enroll` drives one bootstrapping certificate far
 * past the per-certificate enrollment rate limit, which is not what it measures).
 */
export function overrideEnv(patch: Partial<Env>): void {
  cached = { ...env(), ...patch };
}

/**
 * next-auth reads NEXTAUTH_URL from the environment itself: give it the portal's own URL when none is
 * configured. The one write to process.env, kept here with the reads.
 */
export function exportNextAuthUrl(e: Env): void {
  process.env.NEXTAUTH_URL ??= `http://localhost:${e.PORT}`;
}
