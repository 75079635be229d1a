import { createPublicKey, randomBytes, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkCanary, KeyStoreRouter, makeCanary, parseMasterKey, SoftwareKeyStore } from "./keystore.ts";
import { keyErrorCode, MemoryRepo } from "./testing/key-repo.ts";

const codeOf = keyErrorCode;

const sig = async (store: SoftwareKeyStore, ref: string) => {
  const s = await store.signer(ref);
  const data = Buffer.from("tbs");
  return verify(
    s.algorithm === "ECDSA-P384" ? "sha384" : "sha256",
    data,
    createPublicKey({ key: s.spki, format: "der", type: "spki" }),
    await s.sign(data),
  );
};

describe("SoftwareKeyStore", () => {
  it("generates, persists encrypted, and signs after a restart", async () => {
    const master = randomBytes(32);
    const repo = new MemoryRepo();
    const a = new SoftwareKeyStore(master, repo);
    const created = await a.generate("ca-1", "ECDSA-P256");
    const p384 = await a.generate("ca-2", "ECDSA-P384");
    expect([created.algorithm, p384.algorithm]).toEqual(["ECDSA-P256", "ECDSA-P384"]);
    const row = repo.sealed("ca-1");
    expect(row.iv).toHaveLength(12);
    expect(row.tag).toHaveLength(16);
    expect(row.ciphertext.includes(Buffer.from("3041020100", "hex"))).toBe(false); // no plaintext PKCS#8 header

    const b = new SoftwareKeyStore(master, repo);
    expect((await b.signer("ca-1")).spki.equals(created.spki)).toBe(true);
    expect(await sig(b, "ca-1")).toBe(true);
    expect(await sig(b, "ca-2")).toBe(true);
  });

  it("caches decrypted signers per ref, concurrent callers decrypt once", async () => {
    const master = randomBytes(32);
    const repo = new MemoryRepo();
    await new SoftwareKeyStore(master, repo).generate("ca-1", "ECDSA-P256");
    const store = new SoftwareKeyStore(master, repo);
    repo.gets = 0;
    const [x, y] = await Promise.all([store.signer("ca-1"), store.signer("ca-1")]);
    expect(x).toBe(y);
    expect(await store.signer("ca-1")).toBe(x);
    expect(repo.gets).toBe(1);
  });

  it.each<[string, (repo: MemoryRepo, master: Buffer) => Promise<unknown>, string]>([
    ["a wrong master key", async (repo) => new SoftwareKeyStore(randomBytes(32), repo).signer("ca-1"), "master_key_mismatch"],
    [
      "a ciphertext moved to another ref (AAD)",
      async (repo, master) => {
        repo.rows.set("ca-other", { ...repo.rows.get("ca-1")!, ref: "ca-other" });
        return new SoftwareKeyStore(master, repo).signer("ca-other");
      },
      "master_key_mismatch",
    ],
    [
      "a flipped ciphertext bit",
      async (repo, master) => {
        repo.sealed("ca-1").ciphertext[3] ^= 1;
        return new SoftwareKeyStore(master, repo).signer("ca-1");
      },
      "master_key_mismatch",
    ],
    [
      "a truncated tag",
      async (repo, master) => {
        const r = repo.sealed("ca-1");
        r.tag = r.tag.subarray(0, 8);
        return new SoftwareKeyStore(master, repo).signer("ca-1");
      },
      "master_key_mismatch",
    ],
    [
      "a record claiming another algorithm",
      async (repo, master) => {
        repo.rows.get("ca-1")!.algorithm = "ECDSA-P384";
        return new SoftwareKeyStore(master, repo).signer("ca-1");
      },
      "key_algorithm_unsupported",
    ],
    ["an unknown ref", async (repo, master) => new SoftwareKeyStore(master, repo).signer("nope"), "key_not_found"],
    [
      "generating over an existing ref",
      async (repo, master) => new SoftwareKeyStore(master, repo).generate("ca-1", "ECDSA-P256"),
      "key_exists",
    ],
    [
      "an unsupported algorithm",
      async (repo, master) => new SoftwareKeyStore(master, repo).generate("ca-9", "RSA" as never),
      "key_algorithm_unsupported",
    ],
    ["a 16-byte master key", async (repo) => new SoftwareKeyStore(randomBytes(16), repo), "master_key_invalid"],
  ])("fails closed on %s", async (_n, attack, code) => {
    const master = randomBytes(32);
    const repo = new MemoryRepo();
    await new SoftwareKeyStore(master, repo).generate("ca-1", "ECDSA-P256");
    expect(await codeOf(() => attack(repo, master))).toBe(code);
  });

  it("retries a failed load instead of caching the failure", async () => {
    const master = randomBytes(32);
    const repo = new MemoryRepo();
    const store = new SoftwareKeyStore(master, repo);
    expect(await codeOf(() => store.signer("later"))).toBe("key_not_found");
    await new SoftwareKeyStore(master, repo).generate("later", "ECDSA-P256");
    expect(await sig(store, "later")).toBe(true);
  });

  it("never puts key bytes in error messages", async () => {
    const master = randomBytes(32);
    const repo = new MemoryRepo();
    await new SoftwareKeyStore(master, repo).generate("ca-1", "ECDSA-P256");
    const wrong = randomBytes(32);
    const err = await new SoftwareKeyStore(wrong, repo).signer("ca-1").catch((e: Error) => e);
    const text = `${(err as Error).message} ${(err as Error).stack}`;
    for (const secret of [master, wrong, repo.sealed("ca-1").ciphertext]) {
      expect(text).not.toContain(secret.toString("hex"));
      expect(text).not.toContain(secret.toString("base64"));
    }
  });
});

describe("KeyStoreRouter", () => {
  it("generates where it is told and loads each key from the store its record names", async () => {
    const repo = new MemoryRepo();
    const master = randomBytes(32);
    const software = new SoftwareKeyStore(master, repo);
    const created = await new KeyStoreRouter(repo, { software }, "software").generate("ca-1", "ECDSA-P256");
    expect(repo.sealed("ca-1").store).toBe("software");
    const fresh = new KeyStoreRouter(repo, { software: new SoftwareKeyStore(master, repo) }, "software");
    expect((await fresh.signer("ca-1")).spki.equals(created.spki)).toBe(true);
    expect(await fresh.signer("ca-1")).toBe(await fresh.signer("ca-1"));
  });

  it("fails closed with a code when the key's store is not available in this process", async () => {
    const repo = new MemoryRepo();
    await new SoftwareKeyStore(randomBytes(32), repo).generate("ca-1", "ECDSA-P256");
    repo.rows.set("ca-2", { ref: "ca-2", algorithm: "ECDSA-P256", store: "pkcs11", spki: Buffer.alloc(91), token: "abc" });
    const none = new KeyStoreRouter(repo, {}, "pkcs11");
    expect(await codeOf(() => none.signer("ca-1"))).toBe("master_key_required");
    expect(await codeOf(() => none.signer("ca-2"))).toBe("pkcs11_not_configured");
    expect(await codeOf(() => none.signer("ca-3"))).toBe("key_not_found");
    expect(await codeOf(() => none.generate("ca-4", "ECDSA-P256"))).toBe("pkcs11_not_configured");
    expect(repo.rows.has("ca-4")).toBe(false);
  });

  it("a software store refuses a PKCS#11 record", async () => {
    const repo = new MemoryRepo();
    repo.rows.set("ca-2", { ref: "ca-2", algorithm: "ECDSA-P256", store: "pkcs11", spki: Buffer.alloc(91), token: "abc" });
    expect(await codeOf(() => new SoftwareKeyStore(randomBytes(32), repo).signer("ca-2"))).toBe("key_store_mismatch");
  });
});

describe("parseMasterKey", () => {
  const key = randomBytes(32);
  it.each([
    ["hex", key.toString("hex")],
    ["HEX with whitespace", ` ${key.toString("hex").toUpperCase()}\n`],
    ["base64", key.toString("base64")],
    ["base64url", key.toString("base64url")],
  ])("accepts %s", (_n, text) => {
    expect(parseMasterKey(text).equals(key)).toBe(true);
  });

  it.each([
    ["empty", ""],
    ["short hex", key.toString("hex").slice(2)],
    ["long hex", `${key.toString("hex")}00`],
    ["base64 of 31 bytes", randomBytes(31).toString("base64")],
    ["base64 of 33 bytes", randomBytes(33).toString("base64")],
    ["a passphrase", "correct horse battery staple correct horse battery"],
  ])("refuses %s", async (_n, text) => {
    expect(await codeOf(() => parseMasterKey(text))).toBe("master_key_invalid");
  });
});

describe("canary", () => {
  it("accepts the same master key and refuses any other", async () => {
    const key = randomBytes(32);
    const canary = makeCanary(key);
    expect(canary).toMatch(/^v1\./);
    expect(await codeOf(() => checkCanary(key, canary))).toBe("ok");
    expect(await codeOf(() => checkCanary(randomBytes(32), canary))).toBe("master_key_mismatch");
    expect(await codeOf(() => checkCanary(key, canary.replace(/^v1/, "v2")))).toBe("master_key_mismatch");
    expect(await codeOf(() => checkCanary(key, "garbage"))).toBe("master_key_mismatch");
    expect(await codeOf(() => checkCanary(key, `${canary}.x`))).toBe("master_key_mismatch");
    expect(makeCanary(key)).not.toBe(canary); // random IV
  });
});
