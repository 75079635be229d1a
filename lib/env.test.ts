import { describe, expect, it } from "vitest";
import { ConfigError, parseEnv } from "./env.ts";

describe("parseEnv", () => {
  it("defaults to the embedded database under ./.data and the spec's ports", () => {
    const e = parseEnv({});
    expect(e.embedded).toBe(true);
    expect(e.dataDir).toMatch(/\.data$/);
    expect([e.PORT, e.DEVICE_PORT]).toEqual([3000, 8443]);
    expect(e.publicUrl).toBe("http://localhost:3000");
  });

  it("caps connections per address and times handshakes by default; 0 lifts the per-address cap", () => {
    const e = parseEnv({});
    expect([e.DEVICE_MAX_CONNECTIONS, e.DEVICE_MAX_CONNECTIONS_PER_ADDRESS, e.DEVICE_HANDSHAKE_TIMEOUT_MS, e.WEB_MAX_CONNECTIONS]).toEqual([
      10_000, 1_000, 10_000, 10_000,
    ]);
    expect(e.DEVICE_HANDSHAKE_TIMEOUT_MS).toBeLessThan(e.DEVICE_REQUEST_TIMEOUT_MS);
    const custom = parseEnv({ DEVICE_MAX_CONNECTIONS_PER_ADDRESS: "0", DEVICE_HANDSHAKE_TIMEOUT_MS: "5000", WEB_MAX_CONNECTIONS: "2000" });
    expect([custom.DEVICE_MAX_CONNECTIONS_PER_ADDRESS, custom.DEVICE_HANDSHAKE_TIMEOUT_MS, custom.WEB_MAX_CONNECTIONS]).toEqual([
      0, 5_000, 2_000,
    ]);
  });

  it("switches to PostgreSQL with DATABASE_URL", () => {
    const e = parseEnv({ DATABASE_URL: "postgresql://u:p@db.example:5432/pss" });
    expect(e.embedded).toBe(false);
  });

  it.each([
    ["DATABASE_URL", "mysql://u@h/db"],
    ["DATABASE_URL", "not a url"],
    ["DATABASE_URL", "postgresql://host-without-db"],
    ["PORT", "http"],
    ["PORT", "70000"],
    ["DEVICE_PORT", "-1"],
    ["DEVICE_PORT", "8443x"],
    ["PSS_ADMIN_EMAIL", "not-an-email"],
    ["LOG_LEVEL", "loud"],
    ["NEXTAUTH_SECRET", "x"],
    ["API_OIDC_ISSUER", "http://idp.example.com/pool"],
    ["API_OIDC_JWKS_URL", "ftp://idp.example.com/jwks.json"],
    ["API_OIDC_USER_FIELD", "name"],
    ["DEVICE_MAX_CONNECTIONS_PER_ADDRESS", "-1"],
    ["DEVICE_MAX_CONNECTIONS_PER_ADDRESS", "many"],
    ["DEVICE_HANDSHAKE_TIMEOUT_MS", "50"],
    ["DEVICE_HANDSHAKE_TIMEOUT_MS", "600001"],
    ["WEB_MAX_CONNECTIONS", "0"],
  ])("refuses %s=%s with one readable line", (key, value) => {
    expect(() => parseEnv({ [key]: value })).toThrow(ConfigError);
    try {
      parseEnv({ [key]: value });
    } catch (e) {
      expect((e as Error).message).toMatch(new RegExp(`^invalid configuration: ${key} `));
      expect((e as Error).message).not.toContain("\n");
    }
  });

  it("takes an external API token issuer over https (http on the loopback), never the service's own URL", () => {
    expect(
      parseEnv({ API_OIDC_ISSUER: "https://cognito-idp.eu-west-1.amazonaws.com/pool", API_OIDC_AUDIENCE: "app" }).API_OIDC_ISSUER,
    ).toBe("https://cognito-idp.eu-west-1.amazonaws.com/pool");
    expect(parseEnv({ API_OIDC_ISSUER: "http://127.0.0.1:9000/pool", API_OIDC_AUDIENCE: "app" }).API_OIDC_USER_CLAIM).toBe("email");
    expect(() => parseEnv({ API_OIDC_ISSUER: "https://idp.example.com/pool" })).toThrow(/API_OIDC_AUDIENCE is required/);
    expect(() =>
      parseEnv({
        API_OIDC_ISSUER: "https://pki.example.com/",
        API_OIDC_AUDIENCE: "app",
        PSS_PUBLIC_URL: "https://pki.example.com",
        PSS_REVOCATION_URL: "http://pki.example.com",
      }),
    ).toThrow(/not this service's own URL/);
  });

  const MODULE = "/usr/lib/softhsm/libsofthsm2.so";
  it.each<[string, Record<string, string>, RegExp]>([
    ["a module without a token label", { PSS_PKCS11_MODULE: MODULE, PSS_PKCS11_PIN: "1" }, /PSS_PKCS11_TOKEN_LABEL is required/],
    [
      "a module without a PIN",
      { PSS_PKCS11_MODULE: MODULE, PSS_PKCS11_TOKEN_LABEL: "pss" },
      /one of PSS_PKCS11_PIN and PSS_PKCS11_PIN_FILE/,
    ],
    [
      "both a PIN and a PIN file",
      { PSS_PKCS11_MODULE: MODULE, PSS_PKCS11_TOKEN_LABEL: "pss", PSS_PKCS11_PIN: "1", PSS_PKCS11_PIN_FILE: "/run/pin" },
      /one of PSS_PKCS11_PIN and PSS_PKCS11_PIN_FILE/,
    ],
    ["token settings without a module", { PSS_PKCS11_TOKEN_LABEL: "pss", PSS_PKCS11_PIN: "1" }, /PSS_PKCS11_MODULE is required/],
  ])("refuses a PKCS#11 key store with %s", (_name, source, message) => {
    expect(() => parseEnv(source)).toThrow(message);
  });

  it("accepts a PKCS#11 key store with its label and PIN (no master key needed with DATABASE_URL)", () => {
    const e = parseEnv({
      DATABASE_URL: "postgresql://u:p@db.example:5432/pss",
      PSS_PKCS11_MODULE: MODULE,
      PSS_PKCS11_TOKEN_LABEL: "pss",
      PSS_PKCS11_PIN_FILE: "/run/secrets/pin",
    });
    expect([e.PSS_PKCS11_MODULE, e.PSS_PKCS11_TOKEN_LABEL, e.PSS_PKCS11_PIN_FILE, e.PSS_MASTER_KEY]).toEqual([
      MODULE,
      "pss",
      "/run/secrets/pin",
      undefined,
    ]);
  });

  it.each(["not a url", "pki.example.com", "ftp://pki.example.com", "https://pki.example.com/?x=1", "https://u:p@pki.example.com"])(
    "refuses PSS_PUBLIC_URL %s: it would be baked into every certificate",
    (v) => {
      expect(() => parseEnv({ PSS_PUBLIC_URL: v })).toThrow(/PSS_PUBLIC_URL must be an http\(s\) URL/);
    },
  );

  it("strips a trailing slash from PSS_PUBLIC_URL; CRL and OCSP URLs come from it when it is plain http", () => {
    const e = parseEnv({ PSS_PUBLIC_URL: "http://pki.example.com/" });
    expect([e.publicUrl, e.revocationUrl]).toEqual(["http://pki.example.com", "http://pki.example.com"]);
  });

  it("an https PSS_PUBLIC_URL needs a plain-http PSS_REVOCATION_URL for the CRL and OCSP URLs (SPEC §3)", () => {
    expect(() => parseEnv({ PSS_PUBLIC_URL: "https://pki.example.com" })).toThrow(/set PSS_REVOCATION_URL/);
    const e = parseEnv({ PSS_PUBLIC_URL: "https://pki.example.com", PSS_REVOCATION_URL: "http://crl.pki.example.com/" });
    expect([e.publicUrl, e.revocationUrl]).toEqual(["https://pki.example.com", "http://crl.pki.example.com"]);
    expect(() => parseEnv({ PSS_REVOCATION_URL: "https://crl.pki.example.com" })).toThrow(/PSS_REVOCATION_URL must be a plain http URL/);
  });
});
