import { X509Certificate as NodeX509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { toPem } from "./der.ts";
import { isPkiError } from "./errors.ts";
import { MAX_PRESENTED, type ValidatePathInput, validatePath } from "./path.ts";
import {
  createHierarchy,
  EKU,
  generateKeys,
  issueCa,
  issueLeaf,
  openssl,
  scratchDir,
  type TestCert,
  type TestHierarchy,
} from "./testing/ca-fixture.ts";
import { x509 } from "./x509.ts";

const DAY = 24 * 60 * 60 * 1000;
const tmp = scratchDir();
let h: TestHierarchy;
let foreign: TestHierarchy;
let lookAlike: TestHierarchy;

beforeAll(async () => {
  h = await createHierarchy("Path Test");
  foreign = await createHierarchy("Foreign");
  lookAlike = await createHierarchy("Path Test"); // same names as ours, different keys
});
afterAll(() => tmp.cleanup());

/** The normal input: our root trusted, the client sending its issuing CA and intermediate. */
function input(
  leaf: TestCert,
  presented: TestCert[] = [h.issuing, h.intermediate],
  extra: Partial<ValidatePathInput> = {},
): ValidatePathInput {
  return {
    leafDer: leaf.der,
    presented: presented.map((c) => c.der),
    trustedRoot: h.root.der,
    now: new Date(),
    requiredEku: "clientAuth",
    ...extra,
  };
}

/** Second opinion: openssl verify with the same trust anchor, intermediates and purpose. */
function opensslVerify(i: ValidatePathInput): { ok: boolean; out: string } {
  const id = Math.random().toString(16).slice(2);
  const pem = (d: Uint8Array) => toPem("CERTIFICATE", d);
  const untrusted = [...(i.presented ?? []), ...(i.knownCas ?? [])].map(pem).join("\n");
  const args = ["verify", "-x509_strict", "-CAfile", tmp.write(`root-${id}.pem`, pem(i.trustedRoot))];
  if (untrusted) args.push("-untrusted", tmp.write(`untrusted-${id}.pem`, untrusted));
  if (i.requiredEku) args.push("-purpose", i.requiredEku === "clientAuth" ? "sslclient" : "sslserver");
  args.push(tmp.write(`leaf-${id}.pem`, pem(i.leafDer)));
  const { code, out } = openssl(args);
  return { ok: code === 0 && /: OK/.test(out), out };
}

async function codeOf(i: ValidatePathInput): Promise<string> {
  try {
    await validatePath(i);
    return "ok";
  } catch (e) {
    if (isPkiError(e)) {
      expect(e.status).toBe(403);
      return e.code;
    }
    throw e;
  }
}

describe("validatePath: good chains (cross-checked with openssl verify)", () => {
  const good: [string, () => ValidatePathInput][] = [
    ["client sends issuing CA and intermediate", () => input(h.leaf)],
    [
      "client sends them in reverse order, with an unrelated extra certificate",
      () => input(h.leaf, [h.intermediate, foreign.issuing, h.issuing]),
    ],
    ["client sends only its issuing CA; we know the intermediate", () => input(h.leaf, [h.issuing], { knownCas: [h.intermediate.der] })],
    [
      "client sends nothing; our CA list completes the path",
      () => input(h.leaf, [], { knownCas: [h.intermediate.der, h.issuing.der, foreign.intermediate.der] }),
    ],
    ["client also sends the root", () => input(h.leaf, [h.issuing, h.intermediate, h.root])],
    ["no EKU required", () => input(h.leaf, undefined, { requiredEku: undefined })],
  ];
  it.each(good)("%s", async (_name, make) => {
    const i = make();
    const result = await validatePath(i);
    expect(result.chain.map((c) => c.subject)).toEqual([h.leaf, h.issuing, h.intermediate, h.root].map((c) => c.cert.subject));
    expect(result.chainDer.at(-1)!.equals(h.root.der)).toBe(true);
    const openSsl = opensslVerify(i);
    expect(openSsl.ok, openSsl.out).toBe(true);
  });

  it("reports the leaf's serial, its issuer's serial, the SAN UID and the device id", async () => {
    const { leaf } = await validatePath(input(h.leaf));
    expect(leaf.serialHex).toBe(h.leaf.cert.serialNumber.toLowerCase().replace(/^0+/, ""));
    expect(leaf.issuerSerialHex).toBe(h.issuing.cert.serialNumber.toLowerCase().replace(/^0+/, ""));
    expect(leaf.issuerDer.equals(h.issuing.der)).toBe(true);
    expect(leaf.uid).toBe("user-uid-1");
    expect(leaf.deviceId).toBe("device-1");
  });

  it("accepts a leaf without EKU, and a CA whose EKU includes the purpose", async () => {
    const noEku = await issueLeaf(h.issuing, { eku: undefined });
    expect(await codeOf(input(noEku))).toBe("ok");
    const clientCa = await issueCa("CN=Path Test Client-only Issuing CA,O=PSS", h.intermediate, {
      basicConstraints: { ca: true, pathLength: 0 },
      eku: [EKU.clientAuth],
    });
    const leaf = await issueLeaf(clientCa);
    const i = input(leaf, [clientCa, h.intermediate]);
    expect(await codeOf(i)).toBe("ok");
    expect(opensslVerify(i).ok).toBe(true);
  });

  it("asks isRevoked about the leaf and every CA below the root, with their issuers", async () => {
    const asked: [string, string][] = [];
    await validatePath(
      input(h.leaf, undefined, {
        isRevoked: async (cert, issuer) => {
          asked.push([new x509.X509Certificate(new Uint8Array(cert)).subject, new x509.X509Certificate(new Uint8Array(issuer)).subject]);
          return false;
        },
      }),
    );
    expect(asked).toEqual([
      [h.leaf.cert.subject, h.issuing.cert.subject],
      [h.issuing.cert.subject, h.intermediate.cert.subject],
      [h.intermediate.cert.subject, h.root.cert.subject],
    ]);
  });
});

/** name, how to build the input, expected code, whether openssl verify must refuse it as well */
type BadCase = [string, () => Promise<ValidatePathInput>, string, boolean];

const past = (days: number) => new Date(Date.now() - days * DAY);
const future = (days: number) => new Date(Date.now() + days * DAY);

const bad: BadCase[] = [
  [
    "garbage instead of a certificate",
    async () => ({ ...input(h.leaf), leafDer: Buffer.from("not a certificate") }),
    "cert_malformed",
    true,
  ],
  [
    "a truncated intermediate",
    async () => ({ ...input(h.leaf), presented: [h.issuing.der.subarray(0, -20), h.intermediate.der] }),
    "cert_malformed",
    true,
  ],
  ["a leaf from a foreign hierarchy", async () => input(foreign.leaf, [foreign.issuing, foreign.intermediate]), "chain_untrusted", true],
  [
    "a look-alike hierarchy with our CA names but other keys",
    async () => input(lookAlike.leaf, [lookAlike.issuing, lookAlike.intermediate, lookAlike.root]),
    "chain_untrusted",
    true,
  ],
  ["a missing intermediate", async () => input(h.leaf, [h.issuing]), "chain_untrusted", true],
  [
    "more intermediates than allowed",
    async () =>
      input(
        h.leaf,
        Array.from({ length: MAX_PRESENTED + 1 }, () => h.issuing),
      ),
    "chain_too_long",
    false,
  ],
  [
    "a path deeper than the limit",
    async () => {
      let ca = h.root;
      const cas: TestCert[] = [];
      for (let n = 1; n <= 5; n++) {
        ca = await issueCa(`CN=Path Test Deep CA ${n},O=PSS`, ca);
        cas.push(ca);
      }
      return input(await issueLeaf(ca), cas.reverse());
    },
    "chain_too_long",
    false, // openssl's default depth limit is 100
  ],
  [
    "a leaf signed by another key than its named issuer's",
    async () => input(await issueLeaf(h.issuing, { signingKeyOverride: (await generateKeys()).privateKey })),
    "chain_signature_invalid",
    true,
  ],
  [
    "a leaf whose issuer DN is not its issuer's subject (swapped issuer)",
    async () => input(await issueLeaf(h.issuing, { issuerNameOverride: "CN=Path Test TLS Intermediate CA G1,O=PSS" })),
    "name_chaining",
    true,
  ],
  ["an expired leaf", async () => input(await issueLeaf(h.issuing, { notBefore: past(40), notAfter: past(1) })), "cert_expired", true],
  [
    "a leaf not yet valid",
    async () => input(await issueLeaf(h.issuing, { notBefore: future(1), notAfter: future(30) })),
    "cert_not_yet_valid",
    true,
  ],
  [
    "an expired intermediate",
    async () => {
      const inter = await issueCa("CN=Path Test Expired Intermediate,O=PSS", h.root, { notBefore: past(800), notAfter: past(1) });
      const issuing = await issueCa("CN=Path Test Issuing Under Expired,O=PSS", inter, { basicConstraints: { ca: true, pathLength: 0 } });
      return input(await issueLeaf(issuing), [issuing, inter]);
    },
    "cert_expired",
    true,
  ],
  [
    "an expired root",
    async () => {
      const root = await issueCa("CN=Path Test Expired Root,O=PSS", undefined, { notBefore: past(800), notAfter: past(1) });
      const issuing = await issueCa("CN=Path Test Issuing Under Expired Root,O=PSS", root, {
        basicConstraints: { ca: true, pathLength: 0 },
      });
      return { ...input(await issueLeaf(issuing), [issuing]), trustedRoot: root.der };
    },
    "cert_expired",
    true,
  ],
  [
    "an issuing CA with CA:FALSE",
    async () => {
      const notCa = await issueCa("CN=Path Test Not A CA,O=PSS", h.intermediate, { basicConstraints: { ca: false } });
      return input(await issueLeaf(notCa), [notCa, h.intermediate]);
    },
    "ca_flag_missing",
    true,
  ],
  [
    "an issuing CA without basicConstraints",
    async () => {
      const notCa = await issueCa("CN=Path Test No Basic Constraints,O=PSS", h.intermediate, { basicConstraints: null });
      return input(await issueLeaf(notCa), [notCa, h.intermediate]);
    },
    "ca_flag_missing",
    true,
  ],
  [
    "a CA without keyCertSign",
    async () => {
      const crlOnly = await issueCa("CN=Path Test CRL-only CA,O=PSS", h.intermediate, { keyUsage: x509.KeyUsageFlags.cRLSign });
      return input(await issueLeaf(crlOnly), [crlOnly, h.intermediate]);
    },
    "ca_key_usage_missing",
    true,
  ],
  [
    "a CA without keyUsage at all",
    async () => {
      const noKu = await issueCa("CN=Path Test No Key Usage CA,O=PSS", h.intermediate, { keyUsage: null });
      return input(await issueLeaf(noKu), [noKu, h.intermediate]);
    },
    "ca_key_usage_missing",
    false, // RFC 5280 lets a verifier accept an absent keyUsage; we do not
  ],
  [
    "a sub-CA under an issuing CA with pathLen 0",
    async () => {
      const sub = await issueCa("CN=Path Test Rogue Sub CA,O=PSS", h.issuing);
      return input(await issueLeaf(sub), [sub, h.issuing, h.intermediate]);
    },
    "path_length_exceeded",
    true,
  ],
  ["a CA certificate presented as the client certificate", async () => input(h.issuing, [h.intermediate]), "leaf_is_ca", false],
  ["a leaf with a serverAuth-only EKU", async () => input(await issueLeaf(h.issuing, { eku: [EKU.serverAuth] })), "eku_missing", true],
  [
    "a CA whose EKU lacks clientAuth",
    async () => {
      const serverCa = await issueCa("CN=Path Test Server-only CA,O=PSS", h.intermediate, {
        basicConstraints: { ca: true, pathLength: 0 },
        eku: [EKU.serverAuth],
      });
      return input(await issueLeaf(serverCa), [serverCa, h.intermediate]);
    },
    "eku_missing",
    true,
  ],
  [
    "a leaf with an unknown critical extension",
    async () =>
      input(await issueLeaf(h.issuing, { extraExtensions: [new x509.Extension("1.3.6.1.4.1.99999.1", true, new Uint8Array([5, 0]))] })),
    "unsupported_critical_extension",
    true,
  ],
  ["a revoked leaf", async () => input(h.leaf, undefined, { isRevoked: (cert) => cert.equals(h.leaf.der) }), "cert_revoked", false],
  [
    "a revoked intermediate",
    async () => input(h.leaf, undefined, { isRevoked: async (cert) => cert.equals(h.intermediate.der) }),
    "cert_revoked",
    false,
  ],
];

describe("validatePath: refusals", () => {
  it.each(bad)("refuses %s", async (_name, make, code, opensslRefuses) => {
    const i = await make();
    expect(await codeOf(i)).toBe(code);
    if (opensslRefuses) {
      const second = opensslVerify(i);
      expect(second.ok, `openssl accepted what we refuse:\n${second.out}`).toBe(false);
    }
  });

  it("refuses a leaf when the purpose asked is serverAuth", async () => {
    expect(await codeOf(input(h.leaf, undefined, { requiredEku: "serverAuth" }))).toBe("eku_missing");
  });

  it("checks dates against the given clock, not the system clock", async () => {
    expect(await codeOf(input(h.leaf, undefined, { now: future(31) }))).toBe("cert_expired");
    expect(await codeOf(input(h.leaf, undefined, { now: past(1) }))).toBe("cert_not_yet_valid");
  });
});

describe("validatePath: hostile chains", () => {
  it("a CA key over 4096 RSA bits signs nothing (a client could make every verification cost tens of ms)", () => {
    const f = (n: string) => `${tmp.dir}/big-${n}`;
    const ok = (args: string[]) => expect(openssl(args).code, args.join(" ")).toBe(0);
    tmp.write("big-ca.ext", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
    tmp.write("big-leaf.ext", "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n");
    const P256 = ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    const request = (name: string, key: string[], subject: string, ...more: string[]) =>
      ok(["req", "-new", "-newkey", ...key, "-nodes", "-keyout", f(`${name}.key`), "-subj", subject, ...more]);
    const sign = (name: string, issuer: string, ext: string) =>
      ok([
        "x509",
        "-req",
        "-in",
        f(`${name}.csr`),
        "-CA",
        f(`${issuer}.pem`),
        "-CAkey",
        f(`${issuer}.key`),
        "-days",
        "2",
        "-extfile",
        f(ext),
        "-out",
        f(`${name}.pem`),
      ]);
    request(
      "root",
      P256,
      "/CN=Big Root",
      "-x509",
      "-days",
      "2",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign",
      "-out",
      f("root.pem"),
    );
    request("int", ["rsa:4608"], "/CN=Big RSA CA", "-out", f("int.csr"));
    sign("int", "root", "ca.ext");
    request("leaf", P256, "/CN=dev-big", "-out", f("leaf.csr"));
    sign("leaf", "int", "leaf.ext");
    // openssl itself accepts the chain: only our key-size cap refuses it
    expect(openssl(["verify", "-CAfile", f("root.pem"), "-untrusted", f("int.pem"), f("leaf.pem")]).out).toContain("OK");
    const derOf = (n: string) => Buffer.from(new x509.X509Certificate(readFileSync(f(n), "utf8")).rawData);
    return expect(
      validatePath({ leafDer: derOf("leaf.pem"), presented: [derOf("int.pem")], trustedRoot: derOf("root.pem"), now: new Date() }),
    ).rejects.toMatchObject({ code: "chain_signature_invalid" });
  });

  it("look-alike CA certificates cost a bounded number of signature verifications", async () => {
    const loop = await issueCa("CN=Loop", undefined);
    // ten CA certificates with the same name and key: each is a candidate issuer of every other
    const alikes = await Promise.all(Array.from({ length: MAX_PRESENTED }, () => issueCa("CN=Loop", loop, { keys: loop.keys })));
    const leaf = await issueLeaf(alikes[0]);
    const verify = vi.spyOn(NodeX509Certificate.prototype, "verify");
    try {
      const input = { leafDer: leaf.der, presented: alikes.map((c) => c.der), trustedRoot: h.root.der, now: new Date() };
      await expect(validatePath(input)).rejects.toMatchObject({ code: expect.stringMatching(/^chain_(untrusted|too_long)$/) });
      expect(verify.mock.calls.length).toBeLessThanOrEqual(24);
    } finally {
      verify.mockRestore();
    }
  });
});
