// Revocation, CRLs and OCSP against a real database, checked by openssl (crl -verify, ocsp over HTTP).
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import * as crlRoute from "../../../app/crl/[file]/route.ts";
import * as ocspRoute from "../../../app/ocsp/[...request]/route.ts";
import * as ocspPostRoute from "../../../app/ocsp/route.ts";
import { dbLabel, testDb, unique } from "../../../tests/db.ts";
import { createCsr } from "../../pki/csr.ts";
import * as der from "../../pki/der.ts";
import { toPem } from "../../pki/der.ts";
import { newPrivateKey } from "../../pki/keygen.ts";
import { OID_CN, OID_SERIAL_NUMBER } from "../../pki/names.ts";
import { OCSP_LIMITS, ocspIssuerHashes, ocspResponseStatus } from "../../pki/ocsp.ts";
import { opensslAsync, scratchDir } from "../../pki/testing/ca-fixture.ts";
import { activeCa, ensureHierarchy, rotateCa } from "../ca/hierarchy.ts";
import { keyStore } from "../ca/key-store.ts";
import { issueAndStore } from "../certificates/issue-certificate.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { supersede } from "../devices/authorize.ts";
import { applicationEnroll, simpleEnroll, simpleReenroll } from "../enrollment/est-enroll.ts";
import { customerWithBootstrap, deviceCsr, identityOf } from "../enrollment/testing.ts";
import { CRL_COALESCE_MS, CRLS_KEPT, currentCrl, publishCrl, reissueStaleCrls } from "./crl.ts";
import { revokeBootstrapCertificate } from "./revoke-bootstrap-certificate.ts";
import { caBlastRadius, revokeCa } from "./revoke-ca.ts";
import { revokeCertificate } from "./revoke-certificate.ts";

const db = testDb();
const system = { type: "system", id: "test" } as const;
let server: http.Server;
let base = "";
let url = "";

beforeAll(async () => {
  await ensureHierarchy(system);
  // The /ocsp and /crl route handlers behind a plain HTTP server.
  server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const request = new Request(new URL(req.url ?? "/", base), {
      method: req.method,
      headers: req.headers as Record<string, string>,
      ...(req.method === "POST" ? { body: Buffer.concat(chunks) } : {}),
    });
    const file = /^\/crl\/([^/]+)$/.exec(new URL(request.url).pathname)?.[1];
    const response = file
      ? await crlRoute.GET(request, { params: Promise.resolve({ file }) })
      : req.method === "POST"
        ? await ocspPostRoute.POST(request)
        : await ocspRoute.GET(request);
    res.writeHead(response.status, Object.fromEntries(response.headers)).end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  url = `${base}/ocsp`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

type Customer = Awaited<ReturnType<typeof createCustomer>>;

/** A Client TLS certificate for one of the customer's devices (a new key, the device id as CN and serialNumber). */
const issueClientTls = (c: Customer, id: string) =>
  issueAndStore({
    profile: "client-tls",
    csr: createCsr({
      key: newPrivateKey(),
      subject: [
        { oid: OID_CN, value: id, encoding: "utf8" },
        { oid: OID_SERIAL_NUMBER, value: id, encoding: "printable" },
      ],
    }),
    customerId: c.customer.id,
    uid: c.user.uid,
    actor: system,
  });

async function customerWithDevices(n: number) {
  const c = await createCustomer(
    { name: unique("Initech").replace(/-/g, " "), adminEmail: `${unique()}@initech.test`, adminPassword: "a-long-password-1" },
    system,
  );
  const certs = [];
  for (let i = 0; i < n; i++) certs.push(await issueClientTls(c, `dev-${i}`));
  return { c, certs };
}

/** The serials a DER CRL lists, as openssl reads them (lower-case hex without leading zeros, like serialHex). */
async function crlSerials(der: Uint8Array): Promise<string[]> {
  const s = scratchDir();
  try {
    const r = await opensslAsync(["crl", "-inform", "DER", "-in", s.write("crl.der", der), "-noout", "-text"]);
    return [...r.out.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1].toLowerCase().replace(/^0+/, ""));
  } finally {
    s.cleanup();
  }
}

async function ocsp(leafPem: string, chainPem: string[], extra: string[] = []) {
  const s = scratchDir();
  try {
    const issuer = s.write("issuer.pem", chainPem[0]);
    const r = await opensslAsync([
      "ocsp",
      ...extra,
      "-issuer",
      issuer,
      "-cert",
      s.write("leaf.pem", leafPem),
      "-url",
      url,
      "-CAfile",
      s.write("root.pem", chainPem.at(-1)!),
      "-verify_other",
      s.write("chain.pem", chainPem.join("")),
    ]);
    return r.out;
  } finally {
    s.cleanup();
  }
}

/**
 * The SQL statements this process sends to the database while `fn` runs, seen at the driver (PGlite's query, or
 * node-postgres's Client.query, which its pool and Prisma's adapter go through): what a request really costs,
 * whichever layer issued them. Nothing else in this file runs meanwhile.
 */
async function statementsDuring(fn: () => Promise<unknown>): Promise<string[]> {
  const spy =
    dbLabel() === "pglite"
      ? vi.spyOn(PGlite.prototype, "query")
      : vi.spyOn(pg.Client.prototype as unknown as { query(q: unknown): unknown }, "query");
  try {
    await fn();
    return spy.mock.calls.map(([q]) => (typeof q === "string" ? q : (q as { text: string }).text));
  } finally {
    spy.mockRestore();
  }
}

/** A DER CertID for `serialHex` under the CA certificate `caCertDer` (RFC 6960 §4.1.1). */
function certIdFor(caCertDer: Uint8Array, serialHex: string, alg: "sha1" | "sha256"): Buffer {
  const h = ocspIssuerHashes(caCertDer)[alg];
  return der.sequence(
    der.sequence(der.oid(alg === "sha1" ? "1.3.14.3.2.26" : "2.16.840.1.101.3.4.2.1"), der.nullValue()),
    der.octetString(Buffer.from(h.issuerNameHash, "hex")),
    der.octetString(Buffer.from(h.issuerKeyHash, "hex")),
    der.integer(Buffer.from(serialHex.padStart(serialHex.length + (serialHex.length % 2), "0"), "hex")),
  );
}

const ocspRequest = (certIds: Buffer[]) => der.sequence(der.sequence(der.sequence(...certIds.map((c) => der.sequence(c)))));
const postOcsp = async (body: der.Der) =>
  Buffer.from(await (await fetch(url, { method: "POST", headers: { "content-type": "application/ocsp-request" }, body })).arrayBuffer());

describe(`revocation, CRL and OCSP (${dbLabel()})`, () => {
  it("a revoked certificate is listed in a CRL that openssl verifies, with its reason", async () => {
    const { certs } = await customerWithDevices(2);
    await revokeCertificate({ serial: certs[0].serialHex.toUpperCase(), reason: "keyCompromise", actor: system });
    const crl = (await currentCrl(certs[0].issuerId)).der;
    const s = scratchDir();
    try {
      const crlFile = s.write("ca.crl", crl);
      const r = await opensslAsync([
        "crl",
        "-inform",
        "DER",
        "-in",
        crlFile,
        "-CAfile",
        s.write("chain.pem", certs[0].chainPem.join("")),
        "-noout",
        "-verify",
        "-text",
      ]);
      expect(r.out).toContain("verify OK");
      expect(r.out.toLowerCase()).toContain(certs[0].serialHex.replace(/^0+/, "").toLowerCase().slice(0, 16));
      expect(r.out).toContain("Key Compromise");
      expect(r.out.toLowerCase()).not.toContain(certs[1].serialHex.slice(0, 16));
      expect(r.out).toMatch(/X509v3 CRL Number:\s+\d+/);
    } finally {
      s.cleanup();
    }
  });

  it("a revocation whose CRL reissue never ran is in the next CRL served", async () => {
    const { certs } = await customerWithDevices(1);
    const before = (await currentCrl(certs[0].issuerId)).der;
    // as if the reissue after this revocation had failed: only the row changes
    await db.certificate.update({ where: { id: certs[0].id }, data: { revokedAt: new Date(), revocationReason: "keyCompromise" } });
    // within a minute of the last CRL readers share it; after that the next reader gets a new one
    expect((await currentCrl(certs[0].issuerId)).der.equals(before)).toBe(true);
    const minuteLater = new Date(Date.now() + CRL_COALESCE_MS);
    const after = (await currentCrl(certs[0].issuerId, minuteLater)).der;
    expect(after.equals(before)).toBe(false);
    expect(await crlSerials(after)).toContain(certs[0].serialHex);
    // and once it is listed, the same CRL is served again
    expect((await currentCrl(certs[0].issuerId, minuteLater)).der.equals(after)).toBe(true);
  });

  it("a CRL drops a revoked certificate 24 h after it expired, and keeps it until then (RFC 5280 §3.3)", async () => {
    const { certs } = await customerWithDevices(3);
    const hour = 3_600_000;
    const revoked = { revokedAt: new Date(Date.now() - 60 * 24 * hour), revocationReason: "superseded" as const };
    await db.certificate.update({ where: { id: certs[0].id }, data: { ...revoked, notAfter: new Date(Date.now() - 25 * hour) } });
    await db.certificate.update({ where: { id: certs[1].id }, data: { ...revoked, notAfter: new Date(Date.now() - 23 * hour) } });
    const { der } = await publishCrl(certs[0].issuerId);
    expect(await crlSerials(der)).toEqual([certs[1].serialHex]);
  });

  it("one CA's CRLs are made one at a time: numbers and thisUpdate rise together, expired CRLs are deleted", async () => {
    const { certs } = await customerWithDevices(1);
    const caId = certs[0].issuerId;
    const base = Date.now();
    // callers whose clocks were read in the opposite order of the CRL numbers they will get
    const made = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => publishCrl(caId, new Date(base - i * 1000))));
    made.sort((a, b) => (a.number < b.number ? -1 : 1));
    for (let i = 1; i < made.length; i++) expect(made[i].thisUpdate.getTime()).toBeGreaterThanOrEqual(made[i - 1].thisUpdate.getTime());

    // a day later every earlier CRL has passed its nextUpdate: only the new one is kept
    const later = await publishCrl(caId, new Date(base + 25 * 3_600_000));
    expect(await db.crl.findMany({ where: { caId }, select: { number: true } })).toEqual([{ number: later.number }]);
  });

  it(`a CA keeps only its ${CRLS_KEPT} newest CRLs; the newest is served, verifies, and answers 304 to either validator`, async () => {
    const { certs } = await customerWithDevices(2);
    const caId = certs[0].issuerId;
    await revokeCertificate({ serial: certs[1].serialHex, reason: "keyCompromise", actor: system });
    const at = new Date();
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await publishCrl(caId, at)); // one thisUpdate for all five
    const kept = await db.crl.findMany({ where: { caId }, orderBy: { number: "asc" }, select: { number: true } });
    expect(kept.map((c) => c.number)).toEqual(made.slice(-CRLS_KEPT).map((c) => c.number));

    const crlUrl = `${base}/crl/${caId}.crl`;
    const res = await fetch(crlUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBe(`"${made[4].number}"`);
    const served = Buffer.from(await res.arrayBuffer());
    expect(served.equals(made[4].der)).toBe(true);
    const s = scratchDir();
    try {
      const r = await opensslAsync([
        "crl",
        "-inform",
        "DER",
        "-in",
        s.write("ca.crl", served),
        "-CAfile",
        s.write("chain.pem", certs[0].chainPem.join("")),
        "-noout",
        "-verify",
        "-text",
      ]);
      expect(r.out).toContain("verify OK");
      expect(r.out).toContain("Key Compromise");
    } finally {
      s.cleanup();
    }
    // the last two CRLs share a second: If-Modified-Since cannot tell them apart (200), the ETag can (304)
    const conditional = (headers: Record<string, string>) => fetch(crlUrl, { headers });
    expect((await conditional({ "if-none-match": res.headers.get("etag")! })).status).toBe(304);
    expect((await conditional({ "if-modified-since": res.headers.get("last-modified")! })).status).toBe(200);
    // a CRL a second later: If-Modified-Since of it is a 304 again
    const next = await publishCrl(caId, new Date(made[4].thisUpdate.getTime() + 1000));
    expect(await db.crl.count({ where: { caId } })).toBe(CRLS_KEPT);
    expect((await conditional({ "if-modified-since": next.thisUpdate.toUTCString() })).status).toBe(304);
  });

  it("a 304 never reads a CRL's DER; a 200 reads it once", async () => {
    const { certs } = await customerWithDevices(1);
    const caId = certs[0].issuerId;
    const crl = await publishCrl(caId);
    const crlUrl = `${base}/crl/${caId}.crl`;
    const readsDer = (sql: string) => /\bFROM\s+"[^"]*"\."Crl"/i.test(sql) && /"der"/.test(sql);
    const conditionals: Record<string, string>[] = [
      { "if-none-match": `"${crl.number}"` },
      { "if-modified-since": crl.thisUpdate.toUTCString() },
    ];
    for (const headers of conditionals) {
      let status = 0;
      const sql = await statementsDuring(async () => {
        status = (await fetch(crlUrl, { headers })).status;
      });
      expect(status).toBe(304);
      expect(sql.length).toBeGreaterThan(0);
      expect(sql.filter(readsDer)).toEqual([]);
    }
    let body = Buffer.alloc(0);
    const sql = await statementsDuring(async () => {
      body = Buffer.from(await (await fetch(crlUrl)).arrayBuffer());
    });
    expect(body.equals(crl.der)).toBe(true);
    expect(sql.filter(readsDer)).toHaveLength(1);
  });

  it("concurrent readers of a stale CRL make one new CRL between them", async () => {
    const { certs } = await customerWithDevices(1);
    const caId = certs[0].issuerId;
    await currentCrl(caId);
    await db.certificate.update({ where: { id: certs[0].id }, data: { revokedAt: new Date(), revocationReason: "keyCompromise" } });
    const before = await db.crl.count({ where: { caId } });
    const minuteLater = new Date(Date.now() + CRL_COALESCE_MS);
    const served = await Promise.all([1, 2, 3, 4, 5].map(() => currentCrl(caId, minuteLater)));
    expect(await db.crl.count({ where: { caId } })).toBe(before + 1);
    for (const crl of served) expect(crl.der.equals(served[0].der)).toBe(true);
  });

  it("supersessions share one CRL reissue per CA, a minute later, listing them all", async () => {
    const { certs } = await customerWithDevices(2);
    const caId = certs[0].issuerId;
    await currentCrl(caId);
    const before = await db.crl.count({ where: { caId } });
    vi.useFakeTimers({ toFake: ["setTimeout"] });
    try {
      expect(await supersede(certs[0].id)).toBe(true);
      expect(await supersede(certs[1].id)).toBe(true);
      expect(await db.crl.count({ where: { caId } })).toBe(before);
      vi.advanceTimersByTime(CRL_COALESCE_MS);
    } finally {
      vi.useRealTimers();
    }
    await vi.waitFor(async () => expect(await db.crl.count({ where: { caId } })).toBe(before + 1), { timeout: 10_000 });
    const latest = await db.crl.findFirstOrThrow({ where: { caId }, orderBy: { number: "desc" }, select: { der: true } });
    const s = scratchDir();
    try {
      const r = await opensslAsync(["crl", "-inform", "DER", "-in", s.write("crl.der", latest.der), "-noout", "-text"]);
      const listed = [...r.out.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1].toLowerCase().replace(/^0+/, ""));
      expect(listed.sort()).toEqual(certs.map((c) => c.serialHex).sort());
      expect(r.out).toContain("Superseded");
    } finally {
      s.cleanup();
    }
  });

  // PGlite only: it retires a CA of the hierarchy every test file shares on PostgreSQL
  it.runIf(dbLabel() === "pglite")("a retired CA whose child CAs are still valid keeps its CRL fresh", async () => {
    const intermediate = (await activeCa({ kind: "BOOTSTRAP_INTERMEDIATE" })).ca;
    await db.certificateAuthority.update({ where: { id: intermediate.id }, data: { status: "RETIRED", retiredAt: new Date() } });
    await db.crl.deleteMany({ where: { caId: intermediate.id } });
    await reissueStaleCrls();
    expect(await db.crl.count({ where: { caId: intermediate.id } })).toBe(1);
    await db.certificateAuthority.update({ where: { id: intermediate.id }, data: { status: "ACTIVE", retiredAt: null } });
  });

  it("a CRL over HTTP is revalidated on every use: a strong ETag and Last-Modified, 304 while unchanged, a new ETag after a revocation", async () => {
    const { certs } = await customerWithDevices(2);
    const crlUrl = `${base}/crl/${certs[0].issuerId}.crl`;
    const get = (headers: Record<string, string> = {}) => fetch(crlUrl, { headers });
    const first = await get();
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("application/pkix-crl");
    expect(first.headers.get("cache-control")).toBe("public, no-cache");
    const etag = first.headers.get("etag")!;
    expect(etag).toMatch(/^"\d+"$/);
    // Last-Modified is the CRL's thisUpdate, as openssl reads it
    const der = new Uint8Array(await first.arrayBuffer());
    const s = scratchDir();
    try {
      const r = await opensslAsync(["crl", "-inform", "DER", "-in", s.write("crl.der", der), "-noout", "-lastupdate"]);
      expect(Date.parse(r.out.replace(/^lastUpdate=/, "").trim())).toBe(Date.parse(first.headers.get("last-modified")!));
    } finally {
      s.cleanup();
    }
    const lastModified = first.headers.get("last-modified")!;

    // unchanged: 304 with no body, and the validators and cache policy again (RFC 9110 §15.4.5)
    const conditionals: Record<string, string>[] = [
      { "if-none-match": etag },
      { "if-none-match": `W/"1", W/${etag}` },
      { "if-modified-since": lastModified },
    ];
    for (const conditional of conditionals) {
      const r = await get(conditional);
      expect(r.status).toBe(304);
      expect(await r.text()).toBe("");
      expect([r.headers.get("etag"), r.headers.get("last-modified"), r.headers.get("cache-control")]).toEqual([
        etag,
        lastModified,
        "public, no-cache",
      ]);
    }
    // If-None-Match decides when present; an unparseable If-Modified-Since is ignored
    expect((await get({ "if-none-match": '"1"', "if-modified-since": lastModified })).status).toBe(200);
    expect((await get({ "if-modified-since": "yesterday-ish" })).status).toBe(200);

    // a revocation makes a new CRL: another ETag, and the client's copy is not "unchanged" by either validator —
    // even when the new CRL falls within the same second as the one it replaces (one Last-Modified for both)
    await revokeCertificate({ serial: certs[1].serialHex, reason: "keyCompromise", actor: system });
    for (const conditional of [conditionals[0], conditionals[2]]) {
      const r = await get(conditional);
      expect(r.status).toBe(200);
      expect(r.headers.get("etag")).not.toBe(etag);
      expect(await crlSerials(new Uint8Array(await r.arrayBuffer()))).toEqual([certs[1].serialHex]);
    }
    // two CRLs made within one second share a Last-Modified: If-Modified-Since cannot tell them apart, so it is
    // answered in full (the next CRL's thisUpdate is clamped to this one's: the very same instant)
    const held = (await get()).headers;
    await publishCrl(certs[0].issuerId, new Date(0));
    expect((await get({ "if-modified-since": held.get("last-modified")! })).status).toBe(200);
    expect((await get({ "if-none-match": held.get("etag")! })).status).toBe(200);
    expect((await get({ "if-none-match": (await get()).headers.get("etag")! })).status).toBe(304);
  });

  it("a CRL file name that is no CA id answers 404 without a look-up (36 hex digits, 36 dashes, a NUL); a CA id in any case is served", async () => {
    const crl = (file: string) => crlRoute.GET(new Request(`${base}/crl/${file}`), { params: Promise.resolve({ file }) });
    for (const id of [
      "0".repeat(36),
      "-".repeat(36),
      "\u0000",
      "0000000-00000-0000-0000-000000000000",
      "00000000-0000-0000-0000-00000000000g",
    ])
      expect((await crl(`${id}.crl`)).status, id).toBe(404);
    expect((await crl("00000000-0000-4000-8000-000000000000.crl")).status).toBe(404);
    const root = (await activeCa({ kind: "ROOT" })).ca.id;
    expect((await crl(`${root.toUpperCase()}.crl`)).status).toBe(200);
  });

  it("an OCSP GET answer may be cached a minute, well within its thisUpdate..nextUpdate (RFC 5019 §6.2); an error not at all", async () => {
    const { certs } = await customerWithDevices(1);
    const s = scratchDir();
    try {
      const reqFile = `${s.dir}/req.der`;
      const made = await opensslAsync([
        "ocsp",
        "-issuer",
        s.write("issuer.pem", certs[0].chainPem[0]),
        "-cert",
        s.write("leaf.pem", certs[0].pem),
        "-no_nonce",
        "-reqout",
        reqFile,
      ]);
      expect(made.code).toBe(0);
      const res = await fetch(`${url}/${encodeURIComponent(fs.readFileSync(reqFile).toString("base64"))}`);
      expect(res.status).toBe(200);
      const cacheControl = res.headers.get("cache-control")!;
      expect(cacheControl).toBe("public, max-age=60, no-transform, must-revalidate");
      const text = (
        await opensslAsync(["ocsp", "-respin", s.write("resp.der", new Uint8Array(await res.arrayBuffer())), "-resp_text", "-noverify"])
      ).out;
      const at = (label: string) => Date.parse(new RegExp(`${label}: (.+)`).exec(text)![1]);
      expect(text).toContain("Cert Status: good");
      const maxAge = Number(/max-age=(\d+)/.exec(cacheControl)![1]);
      expect(maxAge * 1000).toBeLessThanOrEqual(at("Next Update") - at("This Update"));
    } finally {
      s.cleanup();
    }
    const malformed = await fetch(`${url}/AAAA`);
    expect(malformed.headers.get("cache-control")).toBe("no-store");
  });

  it(`an OCSP request of ${OCSP_LIMITS.maxCertIds} CertIDs is answered in full with at most 3 queries, not 3 per CertID`, async () => {
    const { certs } = await customerWithDevices(4);
    await revokeCertificate({ serial: certs[2].serialHex, reason: "keyCompromise", actor: system });
    await revokeCertificate({ serial: certs[3].serialHex, reason: "superseded", actor: system });
    const ca = await db.certificateAuthority.findUniqueOrThrow({ where: { id: certs[0].issuerId }, select: { certDer: true } });
    // good, good, revoked, revoked, never issued; SHA-1 and SHA-256 CertIDs alternating
    const serials = [...certs.map((c) => c.serialHex), "1234567890abcdef"];
    const expected = ["good", "good", "revoked", "revoked", "unknown"];
    const certIds = Array.from({ length: OCSP_LIMITS.maxCertIds }, (_, i) =>
      certIdFor(ca.certDer, serials[i % serials.length], i % 2 ? "sha256" : "sha1"),
    );
    await postOcsp(ocspRequest(certIds.slice(0, 1))); // the CA's signer is loaded (and cached) once per process

    let response = Buffer.alloc(0);
    const sql = await statementsDuring(async () => {
      response = await postOcsp(ocspRequest(certIds));
    });
    // the CA by its key hash, its certificates by serial, its child CAs for the serials that are no certificate
    expect(sql.length).toBeGreaterThanOrEqual(1);
    expect(sql.length).toBeLessThanOrEqual(3);
    const s = scratchDir();
    try {
      const r = await opensslAsync([
        "ocsp",
        "-respin",
        s.write("resp.der", response),
        "-resp_text",
        "-CAfile",
        s.write("root.pem", certs[0].chainPem.at(-1)!),
        "-verify_other",
        s.write("chain.pem", certs[0].chainPem.join("")),
      ]);
      expect(r.out).toContain("Response verify OK");
      expect([...r.out.matchAll(/Cert Status: (\w+)/g)].map((m) => m[1])).toEqual(certIds.map((_, i) => expected[i % serials.length]));
      expect([...r.out.matchAll(/Hash Algorithm: (\w+)/g)].map((m) => m[1])).toEqual(certIds.map((_, i) => (i % 2 ? "sha256" : "sha1")));
      expect(r.out).toContain("Reason: keyCompromise");
      expect(r.out).toContain("Reason: superseded");
    } finally {
      s.cleanup();
    }
  });

  it("an OCSP request naming two of our CAs is unauthorized (one response, one signer) after one query", async () => {
    const { certs } = await customerWithDevices(1);
    const ca = await db.certificateAuthority.findUniqueOrThrow({
      where: { id: certs[0].issuerId },
      select: { certDer: true, serial: true, parent: { select: { certDer: true } } },
    });
    // a device certificate under the customer's CA, then that CA's own certificate under the TLS intermediate
    const mixed = ocspRequest([
      certIdFor(ca.certDer, certs[0].serialHex, "sha1"),
      ...Array.from({ length: OCSP_LIMITS.maxCertIds - 1 }, () => certIdFor(ca.parent!.certDer, ca.serial, "sha256")),
    ]);
    let response = Buffer.alloc(0);
    const sql = await statementsDuring(async () => {
      response = await postOcsp(mixed);
    });
    expect(ocspResponseStatus(response)).toBe("unauthorized");
    expect(sql).toHaveLength(1); // the CA the first CertID names
  });

  it("an OCSP POST whose hash algorithm is a 60 KB OID answers malformedRequest, without touching the database", async () => {
    const hugeOid = der.tlv(der.TAG.OID, Buffer.concat([Buffer.from([0x2a]), Buffer.alloc(60_000, 0xff), Buffer.from([0x7f])]));
    const certId = der.sequence(
      der.sequence(hugeOid, der.nullValue()),
      der.octetString(Buffer.alloc(20)),
      der.octetString(Buffer.alloc(20)),
      der.integer(Buffer.from([1])),
    );
    const body = ocspRequest([certId]);
    expect(body.length).toBeLessThanOrEqual(OCSP_LIMITS.maxRequestBytes);
    let response = Buffer.alloc(0);
    const sql = await statementsDuring(async () => {
      response = await postOcsp(body);
    });
    expect(ocspResponseStatus(response)).toBe("malformedRequest");
    expect(sql).toEqual([]);
  });

  it("revoking twice answers already_revoked; a foreign customer gets 404", async () => {
    const { certs } = await customerWithDevices(1);
    const other = await customerWithDevices(0);
    await expect(revokeCertificate({ serial: certs[0].serialHex, customerId: other.c.customer.id, actor: system })).rejects.toMatchObject({
      code: "certificate_not_found",
      status: 404,
    });
    await revokeCertificate({ serial: certs[0].serialHex, actor: system });
    await expect(revokeCertificate({ serial: certs[0].serialHex, actor: system })).rejects.toMatchObject({ code: "already_revoked" });
  });

  it("a leaked bootstrapping key: the devices it enrolled after the moment lose their Client TLS and application certificates", async () => {
    const { c, boot } = await customerWithBootstrap("Initech");
    // what a device does over EST: simpleenroll with the bootstrapping certificate, then c2pa/simpleenroll with its
    // Client TLS certificate
    const enroll = async (id: string) => {
      const tls = await simpleEnroll({ identity: await identityOf(boot.der), csr: deviceCsr(id) });
      const c2pa = await applicationEnroll({ identity: await identityOf(tls.der), csr: deviceCsr(id), profile: "c2pa" });
      return { tls, c2pa };
    };
    const early = await enroll("early-1");
    const [late1, late2] = [await enroll("late-1"), await enroll("late-2")];
    const past = new Date(Date.now() - 3_600_000);
    const earlyRow = await db.certificate.findUniqueOrThrow({ where: { id: early.tls.id } });
    await db.device.update({ where: { id: earlyRow.deviceRef! }, data: { enrolledAt: past } });
    await db.certificate.update({ where: { id: early.tls.id }, data: { createdAt: past } });
    // another customer's devices are never touched
    const stranger = await customerWithDevices(1);

    const r = await revokeBootstrapCertificate({
      serial: boot.serialHex,
      reason: "keyCompromise",
      alsoRevokeDevicesEnrolledAfter: new Date(Date.now() - 600_000),
      customerId: c.customer.id,
      actor: system,
    });
    expect(r.revokedClientTlsSerials.sort()).toEqual([late1.tls.serialHex, late2.tls.serialHex].sort());
    expect(r.revokedApplicationSerials.sort()).toEqual([late1.c2pa.serialHex, late2.c2pa.serialHex].sort());
    const rows = await db.certificate.findMany({
      where: { id: { in: [early, late1, late2].flatMap((d) => [d.tls.id, d.c2pa.id]) } },
      select: { serial: true, revocationReason: true },
    });
    expect(Object.fromEntries(rows.map((x) => [x.serial, x.revocationReason]))).toEqual({
      [early.tls.serialHex]: null,
      [early.c2pa.serialHex]: null,
      [late1.tls.serialHex]: "keyCompromise",
      [late1.c2pa.serialHex]: "keyCompromise",
      [late2.tls.serialHex]: "keyCompromise",
      [late2.c2pa.serialHex]: "keyCompromise",
    });
    expect(await db.certificate.count({ where: { customerId: stranger.c.customer.id, revokedAt: { not: null } } })).toBe(0);

    // the c2pa CA's CRL was reissued with the revocation: it lists exactly the late devices' certificates
    const crl = await db.crl.findFirstOrThrow({ where: { caId: late1.c2pa.issuerId }, orderBy: { number: "desc" } });
    expect((await crlSerials(crl.der)).sort()).toEqual([late1.c2pa.serialHex, late2.c2pa.serialHex].sort());
    const revoked = await ocsp(late1.c2pa.pem, late1.c2pa.chainPem);
    expect(revoked).toMatch(/leaf\.pem: revoked/);
    expect(revoked).toContain("Reason: keyCompromise");
    expect(await ocsp(early.c2pa.pem, early.c2pa.chainPem)).toMatch(/leaf\.pem: good/);
    expect(await ocsp(early.tls.pem, early.tls.chainPem)).toMatch(/leaf\.pem: good/);

    const event = await db.auditEvent.findFirstOrThrow({
      where: { action: "certificate.revoke", target: `certificate:${boot.serialHex}` },
      orderBy: { at: "desc" },
    });
    expect(event.details).toMatchObject({ clientTlsRevoked: 2, applicationRevoked: 2 });
  });

  it("a CA that cannot sign its CRL right after a revocation: the revocation still succeeds, and the next CRL lists it", async () => {
    const { certs } = await customerWithDevices(2);
    const store = await keyStore();
    const signer = vi.spyOn(store, "signer").mockRejectedValueOnce(new Error("the token is gone for a moment"));
    try {
      const r = await revokeCertificate({ serial: certs[0].serialHex, reason: "keyCompromise", actor: system });
      expect(r).toMatchObject({ serial: certs[0].serialHex });
      expect(signer).toHaveBeenCalled();
    } finally {
      signer.mockRestore();
    }
    expect((await db.certificate.findFirstOrThrow({ where: { serial: certs[0].serialHex } })).revocationReason).toBe("keyCompromise");
    // a reader a minute on (the reissue this process scheduled, or any process's reader) gets a CRL that lists it
    const later = await currentCrl(certs[0].issuerId, new Date(Date.now() + CRL_COALESCE_MS + 1000));
    expect(await crlSerials(later.der)).toContain(certs[0].serialHex);
  });

  it("a leaked bootstrapping key: rotations in flight while it is revoked leave no device of it with a valid certificate", async () => {
    const { c, boot } = await customerWithBootstrap("Initech");
    const ids = Array.from({ length: 12 }, (_, i) => unique(`rot-${i}`));
    const devices = [];
    for (const id of ids) devices.push(await simpleEnroll({ identity: await identityOf(boot.der), csr: deviceCsr(id) }));
    const identities = await Promise.all(devices.map((d) => identityOf(d.der)));
    // every device rotates while the key is revoked with everything it enrolled: a rotation either commits first
    // (and its new certificate is revoked too) or is refused
    const results = await Promise.allSettled([
      ...identities.map((identity, i) => simpleReenroll({ identity, csr: deviceCsr(ids[i]) })),
      new Promise((r) => setTimeout(r, 5)).then(() =>
        revokeBootstrapCertificate({
          serial: boot.serialHex,
          reason: "keyCompromise",
          alsoRevokeDevicesEnrolledAfter: new Date(0),
          customerId: c.customer.id,
          actor: system,
        }),
      ),
    ]);
    expect(results.at(-1)?.status).toBe("fulfilled");
    for (const r of results.slice(0, -1))
      if (r.status === "rejected") expect(r.reason).toMatchObject({ code: expect.stringMatching(/^cert_revoked$|^issuer_changed$/) });
    const valid = await db.certificate.findMany({
      where: { customerId: c.customer.id, kind: "CLIENT_TLS", revokedAt: null },
      select: { serial: true },
    });
    expect(valid).toEqual([]);
  });

  it("openssl ocsp reports good, revoked and unknown; SHA-256 CertIDs too; the nonce is checked", async () => {
    const { certs } = await customerWithDevices(2);
    await revokeCertificate({ serial: certs[1].serialHex, reason: "superseded", actor: system });
    const good = await ocsp(certs[0].pem, certs[0].chainPem);
    expect(good).toContain("Response verify OK");
    expect(good).toMatch(/leaf\.pem: good/);
    const revoked = await ocsp(certs[1].pem, certs[1].chainPem, ["-sha256"]);
    expect(revoked).toMatch(/leaf\.pem: revoked/);
    expect(revoked).toContain("Reason: superseded");
    // a serial this CA never issued: forge one by asking with -serial
    const s = scratchDir();
    try {
      const r = await opensslAsync([
        "ocsp",
        "-issuer",
        s.write("i.pem", certs[0].chainPem[0]),
        "-serial",
        "0x1234567890abcdef",
        "-url",
        url,
        "-CAfile",
        s.write("r.pem", certs[0].chainPem.at(-1)!),
        "-verify_other",
        s.write("c.pem", certs[0].chainPem.join("")),
      ]);
      expect(r.out).toMatch(/0x1234567890ABCDEF: unknown/i);
    } finally {
      s.cleanup();
    }
  });

  it("an issuer that is not ours answers unauthorized", async () => {
    const { certs } = await customerWithDevices(1);
    const s = scratchDir();
    try {
      const keyFile = s.write("k.pem", newPrivateKey().export({ type: "pkcs8", format: "pem" }));
      const foreign = await opensslAsync([
        "req",
        "-x509",
        "-new",
        "-key",
        keyFile,
        "-subj",
        "/CN=Foreign CA",
        "-days",
        "2",
        "-out",
        `${s.dir}/f.pem`,
      ]);
      expect(foreign.code).toBe(0);
      const r = await opensslAsync(["ocsp", "-issuer", `${s.dir}/f.pem`, "-serial", `0x${certs[0].serialHex}`, "-url", url, "-noverify"]);
      expect(r.out).toContain("unauthorized");
    } finally {
      s.cleanup();
    }
  });

  it("revoking a customer's TLS issuing CA revokes its devices and bootstrap certificates and activates a new generation", async () => {
    const { c, certs } = await customerWithDevices(3);
    const privateKey = newPrivateKey();
    const boot = await issueAndStore({
      profile: "bootstrap",
      csr: createCsr({ key: privateKey }),
      customerId: c.customer.id,
      uid: c.user.uid,
      actor: system,
    });
    const caId = certs[0].issuerId;
    expect(await caBlastRadius(caId)).toEqual({ certificates: 3, devices: 3, bootstrapCertificates: 1 });
    const r = await revokeCa({ caId, reason: "keyCompromise", actor: system });
    expect(r).toMatchObject({ certificatesRevoked: 3, bootstrapRevoked: 1 });
    expect(await db.certificate.count({ where: { customerId: c.customer.id, revokedAt: null } })).toBe(0);
    const replacement = await db.certificateAuthority.findUniqueOrThrow({ where: { id: r.replacementCaId! } });
    expect(replacement.status).toBe("ACTIVE");
    expect(replacement.subject).toMatch(/ G2$/);
    // the TLS intermediate's CRL lists the revoked CA; OCSP on the CA certificate says revoked
    const ca = await db.certificateAuthority.findUniqueOrThrow({ where: { id: caId } });
    const out = await ocsp(toPem("CERTIFICATE", ca.certDer), certs[0].chainPem.slice(1));
    expect(out).toMatch(/leaf\.pem: revoked/);
    expect(out).toContain("Reason: keyCompromise");
    expect(await ocsp(boot.pem, boot.chainPem)).toMatch(/leaf\.pem: revoked/);
    // new issuance for the customer uses the new generation
    const fresh = await issueClientTls(c, "dev-new");
    expect(fresh.issuerId).toBe(replacement.id);
  });

  it("revoking a customer's TLS issuing CA after a rotation cuts off the older generation's devices too", async () => {
    const { c, certs } = await customerWithDevices(2);
    const g1 = certs[0].issuerId;
    const { active: g2 } = await rotateCa(g1, system);
    await issueClientTls(c, "dev-g2");
    // the confirmation counts both generations' devices
    expect(await caBlastRadius(g2.id)).toMatchObject({ certificates: 3, devices: 3 });
    const r = await revokeCa({ caId: g2.id, reason: "keyCompromise", actor: system });
    expect(r).toMatchObject({ casRevoked: 2, certificatesRevoked: 3 });
    const gens = await db.certificateAuthority.findMany({ where: { scope: g2.scope }, orderBy: { generation: "asc" } });
    expect(gens.map((g) => g.status)).toEqual(["REVOKED", "REVOKED", "ACTIVE"]);
    // the devices' certificates carry cACompromise: their CA's key was compromised, not theirs
    const leaf = await db.certificate.findUniqueOrThrow({ where: { id: certs[0].id } });
    expect(leaf.revocationReason).toBe("cACompromise");
    expect(await ocsp(certs[0].pem, certs[0].chainPem)).toMatch(/leaf\.pem: revoked/);
  });

  it("concurrent revocations or rotations of one CA leave exactly one active generation", async () => {
    const a = await customerWithDevices(1);
    const revoked = await Promise.allSettled([
      revokeCa({ caId: a.certs[0].issuerId, actor: system }),
      revokeCa({ caId: a.certs[0].issuerId, actor: system }),
    ]);
    expect(revoked.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(revoked.find((r) => r.status === "rejected")).toMatchObject({ reason: { code: "already_revoked" } });
    const scopeA = (await db.certificateAuthority.findUniqueOrThrow({ where: { id: a.certs[0].issuerId } })).scope;
    expect(await db.certificateAuthority.count({ where: { scope: scopeA, status: "ACTIVE" } })).toBe(1);

    const b = await customerWithDevices(1);
    const rotated = await Promise.allSettled([rotateCa(b.certs[0].issuerId, system), rotateCa(b.certs[0].issuerId, system)]);
    expect(rotated.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const scopeB = (await db.certificateAuthority.findUniqueOrThrow({ where: { id: b.certs[0].issuerId } })).scope;
    expect(await db.certificateAuthority.count({ where: { scope: scopeB, status: "ACTIVE" } })).toBe(1);
    // a revoked generation whose scope has an active one cannot be rotated into a second
    await expect(rotateCa(a.certs[0].issuerId, system)).rejects.toMatchObject({ code: "ca_not_active" });
  });

  // Revoking the shared TLS Intermediate would cut off every other test file's customers on a shared
  // PostgreSQL database: on PGlite each file has a database of its own.
  it.runIf(dbLabel() === "pglite")(
    "revoking the TLS Intermediate revokes every CA below it and what they issued, and replaces them, parents first",
    async () => {
      const { c, certs } = await customerWithDevices(1);
      const intermediate = await activeCa({ kind: "TLS_INTERMEDIATE" });
      const r = await revokeCa({ caId: intermediate.ca.id, reason: "keyCompromise", actor: system });
      expect(r.casRevoked).toBeGreaterThanOrEqual(3); // the intermediate, the customer's TLS issuing and c2pa CAs
      const leaf = await db.certificate.findUniqueOrThrow({ where: { id: certs[0].id } });
      expect(leaf.revocationReason).toBe("cACompromise");
      expect(await ocsp(certs[0].pem, certs[0].chainPem)).toMatch(/leaf\.pem: revoked/);
      // a new intermediate, and the customer's CAs anew beneath it: issuance goes on with a chain openssl accepts
      const next = await activeCa({ kind: "TLS_INTERMEDIATE" });
      expect(next.ca.id).toBe(r.replacementCaId);
      const tls = await activeCa({ kind: "CUSTOMER_TLS_ISSUING", customerId: c.customer.id });
      const c2pa = await activeCa({ kind: "APPLICATION", customerId: c.customer.id, application: "c2pa" });
      expect([tls.ca.parentId, c2pa.ca.parentId]).toEqual([next.ca.id, next.ca.id]);
      const fresh = await issueClientTls(c, "dev-after");
      expect(fresh.issuerId).toBe(tls.ca.id);
      const s = scratchDir();
      try {
        const v = await opensslAsync([
          "verify",
          "-CAfile",
          s.write("root.pem", fresh.chainPem.at(-1)!),
          "-untrusted",
          s.write("chain.pem", fresh.chainPem.slice(0, -1).join("")),
          s.write("leaf.pem", fresh.pem),
        ]);
        expect(v.out).toContain("leaf.pem: OK");
      } finally {
        s.cleanup();
      }
    },
  );
});
