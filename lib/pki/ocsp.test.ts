import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as der from "./der.ts";
import {
  type CertStatus,
  certIdMatchesIssuer,
  handleOcsp,
  OCSP_LIMITS,
  type OcspCertId,
  type OcspIssuer,
  ocspIssuerHashes,
  ocspResponseStatus,
  parseOcspGet,
  parseOcspRequest,
  respondOcsp,
} from "./ocsp.ts";
import {
  createHierarchy,
  EKU,
  issueCert,
  issueLeaf,
  opensslAsync,
  pemBundle,
  scratchDir,
  type TestCert,
  type TestHierarchy,
} from "./testing/ca-fixture.ts";
import { x509 } from "./x509.ts";

const tmp = scratchDir();
let h: TestHierarchy;
let foreign: TestHierarchy;
let revokedLeaf: TestCert;
let unknownLeaf: TestCert;
let delegatedCaLeaf: TestCert;
let server: Server;
let url: string;
const files: Record<string, string> = {};

/** The in-memory "database": our CAs, and the status of every serial they issued. */
const statusTable = new Map<string, CertStatus>();
let cas: (OcspIssuer & { name: string })[] = [];
let failLookups = false;

/** Every callback call of the responder, to check that a request costs one look-up of each kind. */
const calls = { findIssuer: 0, statuses: [] as (readonly string[])[] };

const options = () => ({
  findIssuer: (certId: OcspCertId) => {
    calls.findIssuer++;
    return cas.find((ca) => certIdMatchesIssuer(certId, ca.certDer)) ?? null;
  },
  statuses: (_issuer: OcspIssuer, serialHexes: readonly string[]): Map<string, CertStatus> => {
    calls.statuses.push(serialHexes);
    if (failLookups) throw new Error("database down");
    return new Map(serialHexes.flatMap((s) => (statusTable.has(s) ? [[s, statusTable.get(s)!] as const] : [])));
  },
  now: new Date(),
});

function serialOf(cert: TestCert): string {
  return cert.cert.serialNumber.toLowerCase().replace(/^0+/, "");
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > OCSP_LIMITS.maxRequestBytes) break; // handleOcsp refuses the oversized body as malformed
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  h = await createHierarchy("OCSP Test");
  foreign = await createHierarchy("Foreign");
  revokedLeaf = await issueLeaf(h.issuing);
  unknownLeaf = await issueLeaf(h.issuing); // issued, but never recorded: stands for a serial we never issued
  // The intermediate answers through a delegated responder certificate (EKU OCSPSigning + ocsp-nocheck).
  const responder = await issueCert({
    subject: "CN=OCSP Test Intermediate OCSP Responder,O=PSS",
    issuer: h.intermediate,
    basicConstraints: { ca: false },
    keyUsage: x509.KeyUsageFlags.digitalSignature,
    eku: [EKU.ocspSigning],
    ocspNoCheck: true,
  });
  delegatedCaLeaf = h.issuing; // the issuing CA's own status comes from the intermediate

  statusTable.set(serialOf(h.leaf), { status: "good" });
  statusTable.set(serialOf(revokedLeaf), { status: "revoked", revokedAt: new Date("2026-01-02T03:04:05Z"), reason: "keyCompromise" });
  statusTable.set(serialOf(h.issuing), { status: "good" });
  cas = [
    { name: "issuing", certDer: h.issuing.der, signer: h.issuing.signer },
    { name: "intermediate", certDer: h.intermediate.der, signer: responder.signer, responderCertDer: responder.der },
  ];

  files.chain = tmp.write("chain.pem", pemBundle(h.root, h.intermediate, h.issuing));
  files.root = tmp.write("root.pem", h.root.pem);
  files.issuing = tmp.write("issuing.pem", h.issuing.pem);
  files.intermediate = tmp.write("intermediate.pem", h.intermediate.pem);
  files.leaf = tmp.write("leaf.pem", h.leaf.pem);
  files.revoked = tmp.write("revoked.pem", revokedLeaf.pem);
  files.unknown = tmp.write("unknown.pem", unknownLeaf.pem);
  files.foreignIssuing = tmp.write("foreign-issuing.pem", foreign.issuing.pem);
  files.foreignLeaf = tmp.write("foreign-leaf.pem", foreign.leaf.pem);

  // The same shape the real route will have: POST /ocsp with a DER body, GET /ocsp/<base64>.
  server = createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    let answer: Buffer | undefined;
    if (req.method === "POST" && path === "/ocsp") answer = await handleOcsp(await readBody(req), options());
    else if (req.method === "GET" && path.startsWith("/ocsp/")) answer = await handleOcsp(path.slice("/ocsp/".length), options());
    if (!answer) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/ocsp-response", "content-length": answer.length }).end(answer);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ocsp`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  tmp.cleanup();
});

/** `openssl ocsp` against the live server; -CAfile holds our chain, so "Response verify OK" means a valid signature. */
function ocspQuery(...args: string[]) {
  return opensslAsync(["ocsp", "-url", url, "-CAfile", files.chain, "-resp_text", ...args]);
}

describe("openssl ocsp against the responder (POST)", () => {
  it("answers good for a live certificate, signed by the issuing CA, with the nonce echoed", async () => {
    const { code, out } = await ocspQuery("-issuer", files.issuing, "-cert", files.leaf);
    expect(out).toMatch(/Response verify OK/);
    expect(out).toMatch(/leaf\.pem: good/);
    expect(out).toMatch(/Responder Id: [0-9A-F]{40}/); // byKey
    expect(out).toMatch(/OCSP Nonce:\s+04/); // echoed, and openssl checked it matches
    expect(out).not.toMatch(/WARNING: no nonce/);
    expect(out).toMatch(/Hash Algorithm: sha1/);
    expect(out).toMatch(/This Update:[\s\S]*Next Update:/);
    expect(code).toBe(0);
  });

  it("answers SHA-256 CertIDs", async () => {
    const { out } = await ocspQuery("-sha256", "-issuer", files.issuing, "-cert", files.leaf);
    expect(out).toMatch(/Hash Algorithm: sha256/);
    expect(out).toMatch(/Response verify OK/);
    expect(out).toMatch(/leaf\.pem: good/);
  });

  it("answers revoked with time and reason", async () => {
    const { out } = await ocspQuery("-issuer", files.issuing, "-cert", files.revoked);
    expect(out).toMatch(/Response verify OK/);
    expect(out).toMatch(/revoked\.pem: revoked/);
    expect(out).toMatch(/Reason: keyCompromise/);
    expect(out).toMatch(/Revocation Time: Jan {2}2 03:04:05 2026 GMT/);
  });

  it("answers unknown for a serial never issued", async () => {
    const { out } = await ocspQuery("-issuer", files.issuing, "-cert", files.unknown);
    expect(out).toMatch(/Response verify OK/);
    expect(out).toMatch(/unknown\.pem: unknown/);
  });

  it("answers unauthorized for an issuer that is not ours", async () => {
    const { out } = await ocspQuery("-issuer", files.foreignIssuing, "-cert", files.foreignLeaf);
    expect(out).toMatch(/Responder Error: unauthorized \(6\)/);
  });

  it("works without a nonce", async () => {
    const { out } = await ocspQuery("-no_nonce", "-issuer", files.issuing, "-cert", files.leaf);
    expect(out).toMatch(/Response verify OK/);
    expect(out).toMatch(/leaf\.pem: good/);
    expect(out).not.toMatch(/OCSP Nonce/);
  });

  it("answers several CertIDs of one CA in one signed response", async () => {
    const { out } = await ocspQuery("-issuer", files.issuing, "-cert", files.leaf, "-cert", files.revoked, "-cert", files.unknown);
    expect(out).toMatch(/Response verify OK/);
    expect(out).toMatch(/leaf\.pem: good[\s\S]*revoked\.pem: revoked[\s\S]*unknown\.pem: unknown/);
  });

  it("refuses a request mixing our CA and a foreign one", async () => {
    const { out } = await ocspQuery(
      "-issuer",
      files.issuing,
      "-cert",
      files.leaf,
      "-issuer",
      files.foreignIssuing,
      "-cert",
      files.foreignLeaf,
    );
    expect(out).toMatch(/Responder Error: unauthorized \(6\)/);
  });

  it("signs through a delegated responder certificate and includes it", async () => {
    const { out } = await ocspQuery("-issuer", files.intermediate, "-cert", tmp.write("issuing-as-subject.pem", delegatedCaLeaf.pem));
    expect(out).toMatch(/Response verify OK/);
    expect(out).toMatch(/issuing-as-subject\.pem: good/);
    expect(out).toMatch(/Subject: CN=OCSP Test Intermediate OCSP Responder/); // the certs field
  });

  it("answers internalError when the status lookup fails", async () => {
    failLookups = true;
    try {
      const { out } = await ocspQuery("-issuer", files.issuing, "-cert", files.leaf);
      expect(out).toMatch(/Responder Error: internalerror \(2\)/);
    } finally {
      failLookups = false;
    }
  });
});

describe("look-ups per request", () => {
  /** The CertIDs openssl writes for these certificates of `issuer`, in order (`hash`: "-sha1" or "-sha256"). */
  const certIdsOf = async (hash: string, issuer: string, ...certs: string[]) => {
    const file = `${tmp.dir}/ids-${Math.random().toString(16).slice(2)}.der`;
    const made = await opensslAsync(["ocsp", "-no_nonce", hash, "-issuer", issuer, ...certs.flatMap((c) => ["-cert", c]), "-reqout", file]);
    expect(made.code, made.out).toBe(0);
    return parseOk(readFileSync(file)).certIds.map((c) => c.der);
  };
  const requestOf = (certIds: Buffer[]) => der.sequence(der.sequence(der.sequence(...certIds.map((c) => der.sequence(c)))));
  const reset = () => {
    calls.findIssuer = 0;
    calls.statuses = [];
  };

  it("answers 20 CertIDs (SHA-1 and SHA-256; good, revoked, unknown) with one issuer look-up and one status look-up", async () => {
    const [good1, revoked1, unknown1] = await certIdsOf("-sha1", files.issuing, files.leaf, files.revoked, files.unknown);
    const [good256, revoked256] = await certIdsOf("-sha256", files.issuing, files.leaf, files.revoked);
    const pattern = [good1, revoked256, unknown1, good256, revoked1];
    const certIds = Array.from({ length: OCSP_LIMITS.maxCertIds }, (_, i) => pattern[i % pattern.length]);
    reset();
    const response = await handleOcsp(requestOf(certIds), options());
    expect(calls.findIssuer).toBe(1);
    expect(calls.statuses).toEqual([[serialOf(h.leaf), serialOf(revokedLeaf), serialOf(unknownLeaf)]]);

    const respin = tmp.write("twenty.der", response);
    const { out } = await opensslAsync(["ocsp", "-respin", respin, "-CAfile", files.chain, "-verify_other", files.chain, "-resp_text"]);
    expect(out).toMatch(/Response verify OK/);
    const expected = ["good", "revoked", "unknown", "good", "revoked"];
    expect([...out.matchAll(/Cert Status: (\w+)/g)].map((m) => m[1])).toEqual(certIds.map((_, i) => expected[i % 5]));
    expect([...out.matchAll(/Hash Algorithm: (\w+)/g)].map((m) => m[1])).toEqual(
      certIds.map((c) => (c === good256 || c === revoked256 ? "sha256" : "sha1")),
    );
  });

  it("refuses CertIDs naming two of our CAs as unauthorized after one issuer look-up and no status look-up", async () => {
    const [leaf] = await certIdsOf("-sha1", files.issuing, files.leaf);
    // the issuing CA's own certificate, whose issuer is the intermediate: another CA of ours
    const [otherCa] = await certIdsOf("-sha1", files.intermediate, files.issuing);
    for (const certIds of [
      [leaf, otherCa],
      [otherCa, ...Array.from({ length: OCSP_LIMITS.maxCertIds - 1 }, () => leaf)],
    ]) {
      reset();
      expect(ocspResponseStatus(await handleOcsp(requestOf(certIds), options()))).toBe("unauthorized");
      expect(calls).toEqual({ findIssuer: 1, statuses: [] });
    }
  });
});

describe("GET requests (RFC 6960 A.1)", () => {
  it.each([
    ["standard base64, URL-encoded", (b: Buffer) => encodeURIComponent(b.toString("base64"))],
    ["base64url", (b: Buffer) => b.toString("base64url")],
  ])("answers %s and openssl verifies the response", async (_name, encode) => {
    const req = await requestDer("-no_nonce", "-sha256");
    const res = await fetch(`${url}/${encode(req)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/ocsp-response");
    const respFile = tmp.write("get-response.der", Buffer.from(await res.arrayBuffer()));
    const { out } = await opensslAsync([
      "ocsp",
      "-respin",
      respFile,
      "-sha256",
      "-issuer",
      files.issuing,
      "-cert",
      files.leaf,
      "-CAfile",
      files.chain,
      "-resp_text",
    ]);
    expect(out).toMatch(/Response verify OK/);
    expect(out).toMatch(/leaf\.pem: good/);
  });

  it("echoes the nonce of a GET request too", async () => {
    const req = await requestDer();
    const parsed = parseOcspGet(encodeURIComponent(req.toString("base64")));
    expect(parsed.ok).toBe(true);
    const response = await respondOcsp(parsed, options());
    expect(response.includes(parsed.ok ? parsed.request.nonce! : Buffer.alloc(1))).toBe(true);
  });
});

describe("parsing untrusted requests", () => {
  let valid: Buffer;
  beforeAll(async () => {
    valid = await requestDer();
  });

  it("reads CertID fields and the nonce", () => {
    const parsed = parseOcspRequest(valid);
    if (!parsed.ok) throw new Error("expected a parsed request");
    const [certId] = parsed.request.certIds;
    expect(certId.hashAlgorithm).toBe("sha1");
    expect(certId.serialHex).toBe(serialOf(h.leaf));
    expect(certId.issuerNameHash).toBe(ocspIssuerHashes(h.issuing.der).sha1.issuerNameHash);
    expect(certId.issuerKeyHash).toBe(ocspIssuerHashes(h.issuing.der).sha1.issuerKeyHash);
    expect(parsed.request.nonce?.[0]).toBe(0x04); // OpenSSL wraps the nonce in an OCTET STRING
  });

  it("accepts nonces up to 128 octets and refuses longer ones (RFC 8954)", async () => {
    const plain = await requestDer("-no_nonce");
    const tbs = der.expectTlv(plain, der.expectTlv(plain, 0, der.TAG.SEQUENCE).contentStart, der.TAG.SEQUENCE);
    const requestList = plain.subarray(tbs.contentStart, tbs.end); // the tbsRequest holds only its requestList
    const withNonce = (n: number) =>
      der.sequence(
        der.sequence(
          requestList,
          der.explicit(
            2,
            der.sequence(der.sequence(der.oid("1.3.6.1.5.5.7.48.1.2"), der.octetString(der.octetString(Buffer.alloc(n, 7))))),
          ),
        ),
      );
    expect(parseOk(withNonce(128)).nonce?.length).toBe(131); // the OCTET STRING echoed whole: 3 header octets
    const refused = parseOcspRequest(withNonce(129));
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(ocspResponseStatus(refused.response)).toBe("malformedRequest");
  });

  it("computes issuer hashes the way openssl does (SHA-1 key hash = the CA's SKI here)", () => {
    const hashes = ocspIssuerHashes(h.issuing.der);
    const ski = h.issuing.cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
    expect(hashes.sha1.issuerKeyHash).toBe(ski.toLowerCase());
    expect(hashes.sha256.issuerNameHash).toMatch(/^[0-9a-f]{64}$/);
  });

  const malformed: [string, () => Uint8Array][] = [
    ["empty body", () => new Uint8Array()],
    ["garbage", () => Buffer.from("hello, responder")],
    ["truncated", () => valid.subarray(0, valid.length - 3)],
    ["trailing bytes", () => Buffer.concat([valid, Buffer.from([0])])],
    ["not a SEQUENCE", () => Buffer.from([0x04, 0x02, 0x30, 0x00])],
    ["no requests", () => der.sequence(der.sequence(der.sequence()))],
    ["oversized", () => Buffer.alloc(OCSP_LIMITS.maxRequestBytes + 1, 0x30)],
    ["indefinite length", () => Buffer.from([0x30, 0x80, 0x00, 0x00])],
    [
      // one 60 KB arc: decoding it in full took ~0.4 s of event loop; the OID decoder now reads at most 128 octets
      "a 60 KB hash algorithm OID",
      () => {
        const hugeOid = der.tlv(der.TAG.OID, Buffer.concat([Buffer.from([0x2a]), Buffer.alloc(60_000, 0xff), Buffer.from([0x7f])]));
        const certId = der.sequence(
          der.sequence(hugeOid, der.nullValue()),
          der.octetString(Buffer.alloc(20)),
          der.octetString(Buffer.alloc(20)),
          der.integer(Buffer.from([1])),
        );
        return der.sequence(der.sequence(der.sequence(der.sequence(certId))));
      },
    ],
    [
      "too many CertIDs",
      () => {
        const certId = parseOk(valid).certIds[0].der;
        return der.sequence(der.sequence(der.sequence(...Array.from({ length: OCSP_LIMITS.maxCertIds + 1 }, () => der.sequence(certId)))));
      },
    ],
  ];
  it.each(malformed)("answers malformedRequest to %s", async (_name, body) => {
    const parsed = parseOcspRequest(body());
    expect(parsed.ok).toBe(false);
    const response = await respondOcsp(parsed, options());
    expect(response.toString("hex")).toBe("30030a0101");
  });

  it.each([
    ["bad percent-encoding", "%E0%A4%A"],
    ["not base64", "not*base64!"],
    ["empty", ""],
    ["base64 of garbage", Buffer.from("garbage").toString("base64")],
  ])("answers malformedRequest to a GET with %s", (_name, segment) => {
    const parsed = parseOcspGet(segment);
    expect(!parsed.ok && parsed.status).toBe("malformedRequest");
  });

  it("answers unauthorized to a CertID hashed with an algorithm we do not index", async () => {
    const parsed = parseOcspRequest(await requestDer("-sha384"));
    expect(!parsed.ok && parsed.status).toBe("unauthorized");
  });

  it("never throws on mutated requests", async () => {
    for (let i = 0; i < 2000; i++) {
      const mutated = Buffer.from(valid);
      const flips = 1 + (i % 4);
      for (let f = 0; f < flips; f++) mutated[(i * 7919 + f * 104729) % mutated.length] ^= 1 << ((i + f) % 8);
      const response = await handleOcsp(mutated, options());
      expect(response[0]).toBe(0x30);
    }
  });
});

/** A DER OCSPRequest for the good leaf, written by openssl (options such as -sha256 go before -issuer/-cert). */
async function requestDer(...args: string[]): Promise<Buffer> {
  const file = `${tmp.dir}/req-${Math.random().toString(16).slice(2)}.der`;
  const { code, out } = await opensslAsync(["ocsp", ...args, "-issuer", files.issuing, "-cert", files.leaf, "-reqout", file]);
  expect(code, out).toBe(0);
  return readFileSync(file);
}

function parseOk(body: Uint8Array) {
  const parsed = parseOcspRequest(body);
  if (!parsed.ok) throw new Error("expected a parsed request");
  return parsed.request;
}
