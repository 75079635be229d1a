// The PKCS#11 key store against a real token (SoftHSM2, made by the global setup): keys generated on the token
// and never extractable, signatures checked by node:crypto and by openssl, and every refusal fails closed.
import { createPublicKey, randomUUID, verify } from "node:crypto";
import pkcs11js from "pkcs11js";
import { describe, expect, it, vi } from "vitest";
import { issueCaCertificate } from "./certificate.ts";
import { oid, toPem } from "./der.ts";
import { Pkcs11KeyStore, Pkcs11Token } from "./pkcs11.ts";
import { openssl, scratchDir } from "./testing/ca-fixture.ts";
import { keyErrorCode as codeOf, MemoryRepo } from "./testing/key-repo.ts";
import { TEST_TOKENS, testTokenConfig } from "./testing/softhsm.ts";

/** Faults the binding below injects, each taken once: set by a test, 0 when done. */
const faults = vi.hoisted(() => ({ loseSessionAfterGenerate: 0, loseSessionAtFind: 0 }));

// The real binding, except that the session can be lost under a call (what an HSM failover or a lost reply looks
// like to this process): C_GenerateKeyPair after making the pair on the token, C_FindObjectsInit before searching.
vi.mock("pkcs11js", async (importOriginal) => {
  const real = (await importOriginal<{ default: typeof pkcs11js }>()).default;
  class PKCS11 extends real.PKCS11 {
    constructor() {
      super();
      const generate = this.C_GenerateKeyPairAsync.bind(this);
      this.C_GenerateKeyPairAsync = async (session, ...rest) => {
        const pair = await generate(session, ...rest);
        if (faults.loseSessionAfterGenerate > 0) {
          faults.loseSessionAfterGenerate--;
          this.C_CloseSession(session);
          throw new real.Pkcs11Error("CKR_DEVICE_ERROR:48", 0x30, "C_GenerateKeyPair");
        }
        return pair;
      };
      const findInit = this.C_FindObjectsInit.bind(this);
      this.C_FindObjectsInit = (session, template) => {
        if (faults.loseSessionAtFind > 0) {
          faults.loseSessionAtFind--;
          this.C_CloseSession(session);
          throw new real.Pkcs11Error("CKR_SESSION_HANDLE_INVALID:179", 0xb3, "C_FindObjectsInit");
        }
        return findInit(session, template);
      };
    }
  }
  const mocked = { ...real, PKCS11 };
  return { ...mocked, default: mocked };
});

const ref = () => `ca/${randomUUID()}`;
const openMain = () => Pkcs11Token.open(testTokenConfig());

async function verifies(signer: { algorithm: string; spki: Buffer; sign(d: Uint8Array): Promise<Buffer> }) {
  const data = Buffer.from(`tbs ${randomUUID()}`);
  const sig = await signer.sign(data);
  return verify(
    signer.algorithm === "ECDSA-P384" ? "sha384" : "sha256",
    data,
    createPublicKey({ key: signer.spki, format: "der", type: "spki" }),
    sig,
  );
}

describe("Pkcs11KeyStore on SoftHSM2", () => {
  it.each(["ECDSA-P256", "ECDSA-P384"] as const)(
    "generates a %s key on the token, records it, and signs after a restart",
    async (algorithm) => {
      const repo = new MemoryRepo();
      const token = await openMain();
      const r = ref();
      const created = await new Pkcs11KeyStore(token, repo).generate(r, algorithm);
      expect(created.algorithm).toBe(algorithm);
      expect(await verifies(created)).toBe(true);
      const row = repo.rows.get(r);
      expect(row).toEqual({ ref: r, algorithm, store: "pkcs11", spki: created.spki, token: token.serial });

      // another store on the same token (another process reads the same row)
      const again = await new Pkcs11KeyStore(await openMain(), repo).signer(r);
      expect(again.spki.equals(created.spki)).toBe(true);
      expect(await verifies(again)).toBe(true);
    },
  );

  it("the private key is sensitive and not extractable: the token will not hand out its value", async () => {
    const repo = new MemoryRepo();
    const r = ref();
    await new Pkcs11KeyStore(await openMain(), repo).generate(r, "ECDSA-P256");
    const token = await openMain();
    const signer = await new Pkcs11KeyStore(token, repo).signer(r);
    expect(await verifies(signer)).toBe(true);
    // even a logged-in session cannot read the private value
    const attrs = await token.keyAttributes(r);
    expect(attrs).toEqual({
      sensitive: true,
      extractable: false,
      alwaysSensitive: true,
      neverExtractable: true,
      private: true,
      valueReadable: false,
    });
  });

  it("a CA certificate signed on the token passes openssl verify", async () => {
    const repo = new MemoryRepo();
    const signer = await new Pkcs11KeyStore(await openMain(), repo).generate(ref(), "ECDSA-P256");
    const cert = await issueCaCertificate({
      profile: "root",
      subject: { organization: "PSS", commonName: "PSS HSM Test Root G1" },
      subjectKey: signer,
      now: new Date(),
    });
    const dir = scratchDir();
    try {
      const root = dir.write("root.pem", toPem("CERTIFICATE", cert.der));
      expect(openssl(["verify", "-x509_strict", "-CAfile", root, root]).out.trim()).toBe(`${root}: OK`);
    } finally {
      dir.cleanup();
    }
  });

  it("signs concurrently over its session pool", async () => {
    const signer = await new Pkcs11KeyStore(await openMain(), new MemoryRepo()).generate(ref(), "ECDSA-P256");
    const results = await Promise.all(Array.from({ length: 64 }, () => verifies(signer)));
    expect(results.every(Boolean)).toBe(true);
  });

  it.each<[string, () => Promise<unknown>, string]>([
    // the other token is not logged in yet in this process: the token itself refuses
    ["a wrong PIN", () => Pkcs11Token.open(testTokenConfig(TEST_TOKENS.other, "not-the-pin")), "pkcs11_login_failed"],
    // the login holds for the process: a second open must bring the PIN of the first
    ["another PIN for an open token", () => Pkcs11Token.open(testTokenConfig(TEST_TOKENS.main, "not-the-pin")), "pkcs11_login_failed"],
    ["an unknown token label", () => Pkcs11Token.open(testTokenConfig("no-such-token")), "pkcs11_token_not_found"],
    [
      "a library that is not PKCS#11",
      () => Pkcs11Token.open({ ...testTokenConfig(), module: "/usr/lib/no-such-pkcs11.so" }),
      "pkcs11_module_unavailable",
    ],
  ])("refuses %s", async (_name, open, code) => {
    expect(await codeOf(open)).toBe(code);
  });

  it("fails closed when the recorded key is not the token's", async () => {
    const repo = new MemoryRepo();
    const token = await openMain();
    const store = new Pkcs11KeyStore(token, repo);
    const [a, b] = [ref(), ref()];
    await store.generate(a, "ECDSA-P256");
    const other = await store.generate(b, "ECDSA-P256");
    const row = repo.rows.get(a)!;
    if (row.store !== "pkcs11") throw new Error("expected a PKCS#11 row");

    repo.rows.set(a, { ...row, spki: other.spki }); // the database names another public key
    expect(await codeOf(() => new Pkcs11KeyStore(token, repo).signer(a))).toBe("pkcs11_key_mismatch");
    repo.rows.set(a, { ...row, token: "0000000000000000" }); // made on another token
    expect(await codeOf(() => new Pkcs11KeyStore(token, repo).signer(a))).toBe("pkcs11_key_mismatch");
    repo.rows.set(a, row);
    // the same label on another token: not there
    const elsewhere = await Pkcs11Token.open(testTokenConfig(TEST_TOKENS.other));
    repo.rows.set(a, { ...row, token: elsewhere.serial });
    expect(await codeOf(() => new Pkcs11KeyStore(elsewhere, repo).signer(a))).toBe("key_not_found");
  });

  it("refuses a second key under a ref, and a ref it holds no key for", async () => {
    const repo = new MemoryRepo();
    const store = new Pkcs11KeyStore(await openMain(), repo);
    const r = ref();
    await store.generate(r, "ECDSA-P256");
    expect(await codeOf(() => store.generate(r, "ECDSA-P256"))).toBe("key_exists");
    // a row lost with its token object still there: the label is taken on the token
    repo.rows.delete(r);
    expect(await codeOf(() => store.generate(r, "ECDSA-P256"))).toBe("key_exists");
    expect(await codeOf(() => store.signer(ref()))).toBe("key_not_found");
  });

  it("recovers when the token drops every session and the login (a reset, an HSM failover)", async () => {
    const token = await openMain();
    const signer = await new Pkcs11KeyStore(token, new MemoryRepo()).generate(ref(), "ECDSA-P256");
    expect(await verifies(signer)).toBe(true);
    raw().p11.C_CloseAllSessions(raw().slot); // what a token reset does to this process: sessions and login gone
    const results = await Promise.all(Array.from({ length: 8 }, () => verifies(signer)));
    expect(results.every(Boolean)).toBe(true);
  });

  it("a generation whose answer is lost leaves one key pair under its ref, and the recorded key signs", async () => {
    const repo = new MemoryRepo();
    const r = ref();
    faults.loseSessionAfterGenerate = 1; // the pair is made on the token, then the session is gone
    const created = await new Pkcs11KeyStore(await openMain(), repo).generate(r, "ECDSA-P256");
    expect(faults.loseSessionAfterGenerate).toBe(0);

    const { p11, session } = raw();
    const count = (cls: number) => {
      p11.C_FindObjectsInit(session, [
        { type: pkcs11js.CKA_CLASS, value: cls },
        { type: pkcs11js.CKA_LABEL, value: r },
      ]);
      try {
        return p11.C_FindObjects(session, 8).length;
      } finally {
        p11.C_FindObjectsFinal(session);
      }
    };
    expect([count(pkcs11js.CKO_PRIVATE_KEY), count(pkcs11js.CKO_PUBLIC_KEY)]).toEqual([1, 1]);
    p11.C_CloseSession(session);

    expect(repo.rows.get(r)).toMatchObject({ spki: created.spki });
    const again = await new Pkcs11KeyStore(await openMain(), repo).signer(r);
    expect(again.spki.equals(created.spki)).toBe(true);
    expect(await verifies(again)).toBe(true);
    expect(await verifies(created)).toBe(true);
  });

  it("refuses to generate under a label the token already holds, even when asked directly", async () => {
    const token = await openMain();
    const r = ref();
    const first = await token.generate(r, "ECDSA-P256");
    expect(await codeOf(() => token.generate(r, "ECDSA-P256"))).toBe("key_exists");
    // the session lost before the label was seen: the retry must not take the existing key for a leftover
    faults.loseSessionAtFind = 1;
    expect(await codeOf(() => token.generate(r, "ECDSA-P256"))).toBe("key_exists");
    expect(faults.loseSessionAtFind).toBe(0);
    expect((await token.signer(r)).spki.equals(first.spki)).toBe(true);
  });

  it.each<[string, { extractable?: boolean; otherId?: boolean }, string]>([
    ["an extractable private key", { extractable: true }, "pkcs11_key_exportable"],
    ["a private and public object that are not one pair (CKA_ID)", { otherId: true }, "pkcs11_key_mismatch"],
  ])("refuses %s planted under a key's label", async (_name, plant, code) => {
    const token = await openMain();
    const r = ref();
    const { p11, session } = raw();
    const id = Buffer.from(r);
    const pair = p11.C_GenerateKeyPair(
      session,
      { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
      [
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_LABEL, value: r },
        { type: pkcs11js.CKA_ID, value: plant.otherId ? Buffer.from("another") : id },
        { type: pkcs11js.CKA_EC_PARAMS, value: oid("1.2.840.10045.3.1.7") },
        { type: pkcs11js.CKA_VERIFY, value: true },
      ],
      [
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_LABEL, value: r },
        { type: pkcs11js.CKA_ID, value: id },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: !plant.extractable },
        { type: pkcs11js.CKA_EXTRACTABLE, value: plant.extractable ?? false },
        { type: pkcs11js.CKA_SIGN, value: true },
      ],
    );
    expect(pair.privateKey).toBeDefined();
    expect(await codeOf(() => token.signer(r))).toBe(code);
  });

  it("lists the key pairs under a prefix, and destroys one with both its objects", async () => {
    const token = await openMain();
    const prefix = `test-${randomUUID()}/`;
    const [a, b] = [`${prefix}a`, `${prefix}b`];
    await token.generate(a, "ECDSA-P256");
    await token.generate(b, "ECDSA-P256");
    expect(await token.labels(prefix)).toEqual([a, b]);
    expect(await token.destroy(a)).toBe(2);
    expect(await token.labels(prefix)).toEqual([b]);
    expect(await token.has(a)).toBe(false);
    expect(await token.destroy(a)).toBe(0);
  });
});

/** The same library through the binding directly, as another component of this process (the login is shared). */
function raw() {
  const p11 = new pkcs11js.PKCS11();
  p11.load(testTokenConfig().module);
  try {
    p11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (e) {
    if ((e as { code?: number }).code !== 0x191) throw e; // already initialized by the key store: expected
  }
  const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === TEST_TOKENS.main);
  if (!slot) throw new Error("no test token");
  return { p11, slot, session: p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION) };
}
