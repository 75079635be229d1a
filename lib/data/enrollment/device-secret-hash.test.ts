import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deviceSecretMatches, hashDeviceSecret } from "./device-secret-hash.ts";

describe("device secret hashing", () => {
  it("scrypt with a salt of its own per secret, in one string", async () => {
    const [a, b] = await Promise.all([hashDeviceSecret("a-person-chose-this"), hashDeviceSecret("a-person-chose-this")]);
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain("a-person-chose-this");
  });

  const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
  const secret = "meter-17-secret-xyz";

  it.each([
    ["the secret, scrypt form", secret, "new", true],
    ["another secret, scrypt form", `${secret}.`, "new", false],
    ["the secret, legacy SHA-256 form", secret, sha256(secret), true],
    ["another secret, legacy SHA-256 form", "meter-17-secret-xy", sha256(secret), false],
    ["an empty stored hash", secret, "", false],
    ["an unknown format", secret, `bcrypt$${sha256(secret)}`, false],
    ["a cost beyond the bounds", secret, "scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", false],
    ["N not a power of two", secret, "scrypt$16385$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", false],
    ["a truncated hash", secret, "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAA", false],
  ])("%s", async (_, presented, stored, expected) => {
    const row = stored === "new" ? await hashDeviceSecret(secret) : stored;
    expect(await deviceSecretMatches(presented, row)).toBe(expected);
  });
});
