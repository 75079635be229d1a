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
  ])("refuses %s=%s with one readable line", (key, value) => {
    expect(() => parseEnv({ [key]: value })).toThrow(ConfigError);
    try {
      parseEnv({ [key]: value });
    } catch (e) {
      expect((e as Error).message).toMatch(new RegExp(`^invalid configuration: ${key} `));
      expect((e as Error).message).not.toContain("\n");
    }
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

  it("strips a trailing slash from PSS_PUBLIC_URL", () => {
    expect(parseEnv({ PSS_PUBLIC_URL: "https://pki.example.com/" }).publicUrl).toBe("https://pki.example.com");
  });
});
