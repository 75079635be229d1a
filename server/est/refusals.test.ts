// Refusals at the device API: each with its status and code, and nothing written (but the audit record). A request
// sent again because its answer was lost gets the certificate it was issued; anything short of that stays refused.
import { KeyObject } from "node:crypto";
import https from "node:https";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { activeCa } from "../../lib/data/ca/hierarchy.ts";
import { revokeCa } from "../../lib/data/revocation/revoke-ca.ts";
import { revokeCertificate } from "../../lib/data/revocation/revoke-certificate.ts";
import { bytes, db } from "../../lib/db/client.ts";
import { buildCsr, generateKey } from "../../lib/device-sdk/index.ts";
import { issueCertificate } from "../../lib/pki/certificate.ts";
import { LEAF_PROFILES } from "../../lib/pki/profiles.ts";
import { createHierarchy, issueLeaf } from "../../lib/pki/testing/ca-fixture.ts";
import { testDb } from "../../tests/db.ts";
import { type Credential, enrolled, est, footprint, type Listener, newBootstrap, newCustomer, startListener, system } from "./testing.ts";

testDb();
let l: Listener;
beforeAll(async () => {
  l = await startListener();
});
afterAll(() => l.close());

type Cust = Awaited<ReturnType<typeof newCustomer>>;
const csrFor = (deviceId: string, key = generateKey()) => buildCsr({ key, deviceId });
const PEM = "application/pem-certificate-chain";
const pemOf = (key: KeyObject) => key.export({ type: "pkcs8", format: "pem" }) as string;

/** Runs `request`, expects its status/code, and that it wrote no certificate, device or secret use. */
async function refused(request: () => Promise<{ status: number; code?: string }>, status: number, code?: string) {
  const before = await footprint();
  const r = await request();
  expect(r.status).toBe(status);
  if (code) expect(r.code).toBe(code);
  expect(await footprint()).toEqual(before);
}

let c: Cust;
let boot: Credential;
let device: Awaited<ReturnType<typeof enrolled>>;
beforeAll(async () => {
  c = await newCustomer();
  boot = await newBootstrap(c);
  device = await enrolled(l, c.customer.id, boot, "dev-a");
});

describe("authentication", () => {
  it("no client certificate → 401", async () => {
    await refused(() => est(l, "simpleenroll", null, csrFor("x1")), 401, "client_certificate_required");
    await refused(() => est(l, "c2pa/simpleenroll", null, csrFor("x1")), 401, "client_certificate_required");
  });

  it("an expired certificate of ours → 403", async () => {
    const issuer = await activeCa({ kind: "CUSTOMER_TLS_ISSUING", customerId: c.customer.id });
    const key = generateKey();
    const cert = await issueCertificate({
      csr: csrFor("dev-exp", key),
      profile: { ...LEAF_PROFILES["client-tls"], validity: { days: 1 / 86_400 } },
      issuer: { certDer: issuer.ca.certDer, signer: issuer.signer },
      uid: c.user.uid,
      customerName: c.customer.name,
      publicUrl: "http://127.0.0.1:3999",
      issuerId: issuer.ca.id,
    });
    const dev = await db().device.create({ data: { customerId: c.customer.id, deviceId: "dev-exp" } });
    await db().certificate.create({
      data: {
        serial: cert.serialHex,
        kind: "CLIENT_TLS",
        profile: "client-tls",
        issuerId: issuer.ca.id,
        customerId: c.customer.id,
        deviceRef: dev.id,
        uid: c.user.uid,
        subject: cert.subject,
        spkiSha256: cert.spkiSha256,
        der: bytes(cert.der),
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
      },
    });
    while (Date.now() <= cert.notAfter.getTime() + 50) await new Promise((r) => setTimeout(r, 50));
    const cred = { keyPem: key.export({ type: "pkcs8", format: "pem" }) as string, chainPem: cert.pem };
    const r = await est(l, "c2pa/simpleenroll", cred, csrFor("dev-exp"));
    expect(r.status).toBe(403);
    expect(["cert_expired", "tls_chain_rejected"]).toContain(r.code);
    await refused(() => est(l, "c2pa/simpleenroll", cred, csrFor("dev-exp")), 403);
  });

  it("a certificate from a foreign self-signed CA → 403", async () => {
    const foreign = await createHierarchy("Evil");
    const cred = {
      keyPem: KeyObject.from(foreign.leaf.keys.privateKey).export({ type: "pkcs8", format: "pem" }) as string,
      chainPem: [foreign.leaf.pem, foreign.issuing.pem, foreign.intermediate.pem, foreign.root.pem].join("\n"),
    };
    await refused(() => est(l, "simpleenroll", cred, csrFor("x2")), 403, "chain_untrusted");
    // a foreign leaf that copies the serial of one of our certificates does not borrow its identity
    const twin = await issueLeaf(foreign.issuing, { serialHex: device.serial.length % 2 ? `0${device.serial}` : device.serial });
    const twinCred = {
      keyPem: KeyObject.from(twin.keys.privateKey).export({ type: "pkcs8", format: "pem" }) as string,
      chainPem: [twin.pem, foreign.issuing.pem, foreign.intermediate.pem].join("\n"),
    };
    await refused(() => est(l, "c2pa/simpleenroll", twinCred, csrFor("dev-a")), 403, "chain_untrusted");
  });

  it("a revoked certificate is refused within 1 s, also on a kept-alive connection", async () => {
    const d = await enrolled(l, c.customer.id, boot, "dev-rev");
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: l.rootPem, cert: d.chainPem, key: d.keyPem });
    const post = (body: string) =>
      new Promise<number>((resolve, reject) => {
        const u = new URL(l.url);
        const req = https.request(
          { host: u.hostname, port: u.port, path: "/.well-known/est/c2pa/simpleenroll", method: "POST", agent },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    expect(await post(csrFor("dev-rev").toString("base64"))).toBe(200);
    const body = csrFor("dev-rev").toString("base64");
    await revokeCertificate({ serial: d.serial, reason: "keyCompromise", customerId: c.customer.id, actor: system });
    const before = await footprint();
    // the very next request on the kept-alive connection is refused: the revocation is in force within 1 s
    const t0 = Date.now();
    expect(await post(body)).toBe(403);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await footprint()).toEqual(before);
    agent.destroy();
  });

  it("a certificate whose customer issuing CA was revoked → 403", async () => {
    const other = await newCustomer("Globex");
    const b = await newBootstrap(other);
    const d = await enrolled(l, other.customer.id, b, "dev-ca");
    const ca = await activeCa({ kind: "CUSTOMER_TLS_ISSUING", customerId: other.customer.id });
    await revokeCa({ caId: ca.ca.id, reason: "keyCompromise", actor: system });
    await refused(() => est(l, "c2pa/simpleenroll", d, csrFor("dev-ca")), 403, "cert_revoked");
    await refused(() => est(l, "simpleenroll", b, csrFor("dev-ca2")), 403, "cert_revoked"); // bootstrap revoked with it
  });
});

describe("wrong kind, wrong device, policy", () => {
  it("a bootstrapping certificate at the application endpoint → 403", async () => {
    await refused(() => est(l, "c2pa/simpleenroll", boot, csrFor("dev-a")), 403, "wrong_certificate_kind");
    await refused(() => est(l, "simplereenroll", boot, csrFor("dev-a")), 403, "wrong_certificate_kind");
  });

  it("a Client TLS certificate at simpleenroll → 403", async () => {
    await refused(() => est(l, "simpleenroll", device, csrFor("dev-new")), 403, "wrong_certificate_kind");
  });

  it("the device id of another customer's device → 403", async () => {
    const other = await newCustomer("Umbrella");
    const ob = await newBootstrap(other);
    await enrolled(l, other.customer.id, ob, "their-dev");
    await refused(() => est(l, "c2pa/simpleenroll", device, csrFor("their-dev")), 403, "device_id_mismatch");
    await refused(() => est(l, "simplereenroll", device, csrFor("their-dev")), 400, "csr_device_id_mismatch");
  });

  it("a quarantined bootstrapping certificate → 403", async () => {
    const b = await newBootstrap(c);
    await db().certificate.update({ where: { id: b.id }, data: { quarantinedAt: new Date(), quarantineReason: "test" } });
    await refused(() => est(l, "simpleenroll", b, csrFor("dev-q")), 403, "bootstrap_quarantined");
  });

  it("an enrollment sent again (its answer lost) → the same certificate; another key or credential, or once used → 409", async () => {
    const key = generateKey();
    const csr = csrFor("dev-once", key);
    const first = await est(l, "simpleenroll", boot, csr, PEM);
    expect(first.status).toBe(200);
    // the same request, or a new CSR for the same key (ECDSA signs anew): the same answer, nothing written
    for (const again of [csr, csrFor("dev-once", key)]) {
      const before = await footprint();
      const r = await est(l, "simpleenroll", boot, again, PEM);
      expect(r.status).toBe(200);
      expect(r.res?.body.toString()).toBe(first.res?.body.toString());
      expect(await footprint()).toEqual(before);
    }
    const repeats = await db().auditEvent.findMany({ where: { action: "certificate.issue_repeated", actorId: boot.serial } });
    expect(repeats.map((e) => e.details)).toEqual([
      expect.objectContaining({ request: "simpleenroll", deviceId: "dev-once" }),
      expect.objectContaining({ request: "simpleenroll", deviceId: "dev-once" }),
    ]);
    await refused(() => est(l, "simpleenroll", boot, csrFor("dev-once")), 409, "device_exists");
    const otherBoot = await newBootstrap(c);
    await refused(() => est(l, "simpleenroll", otherBoot, csr), 409, "device_exists");
    // the device presented its certificate: the enrollment is over, a replay of it is one
    expect((await est(l, "cacerts", { keyPem: pemOf(key), chainPem: first.res!.body.toString("utf8") })).status).toBe(200);
    await refused(() => est(l, "simpleenroll", boot, csr), 409, "device_exists");
    await refused(() => est(l, "simpleenroll", boot, csrFor("dev-once-b", key)), 400, "csr_key_reused");
    await refused(() => est(l, "simpleenroll", boot, csrFor("dev-bk", boot.key)), 400, "csr_key_reused");
  });

  it("an application certificate's key is the device's own: not its TLS key, a bootstrapping key or another device's", async () => {
    const key = generateKey();
    const d = await enrolled(l, c.customer.id, boot, "dev-appkey");
    const other = await enrolled(l, c.customer.id, boot, "dev-appkey-other");
    await refused(() => est(l, "c2pa/simpleenroll", d, csrFor("dev-appkey", d.key)), 400, "csr_key_reused");
    await refused(() => est(l, "c2pa/simpleenroll", d, csrFor("dev-appkey", boot.key)), 400, "csr_key_reused");
    await refused(() => est(l, "c2pa/simpleenroll", d, csrFor("dev-appkey", other.key)), 400, "csr_key_reused");
    expect((await est(l, "c2pa/simpleenroll", d, csrFor("dev-appkey", key))).status).toBe(200);
    // its own application key again, to renew: fine; for another device: refused
    expect((await est(l, "c2pa/simplereenroll", d, csrFor("dev-appkey", key))).status).toBe(200);
    await refused(() => est(l, "c2pa/simpleenroll", other, csrFor("dev-appkey-other", key)), 400, "csr_key_reused");
  });

  it("bad CSR → 400 with a reason; oversized body → 413; unknown profile → 404", async () => {
    await refused(() => est(l, "simpleenroll", boot, "bm90IGEgY3Ny"), 400, "csr_malformed");
    const tampered = csrFor("dev-bad");
    tampered[tampered.length - 3] ^= 1;
    await refused(() => est(l, "simpleenroll", boot, tampered), 400, "csr_invalid_signature");
    await refused(() => est(l, "simpleenroll", boot, "A".repeat(70_000)), 413, "body_too_large");
    await refused(() => est(l, "tpm/simpleenroll", device, csrFor("dev-a")), 404, "profile_unknown");
    // a renewal with nothing to renew
    const fresh = await enrolled(l, c.customer.id, boot, "dev-norenew");
    await refused(() => est(l, "c2pa/simplereenroll", fresh, csrFor("dev-norenew")), 404, "nothing_to_renew");
  });

  it("a chunked body over the limit → 413 (answered, audited); a malformed request target → 400", async () => {
    /** One raw HTTP/1.1 exchange over mutual TLS: what the server sends back, headers and body. */
    const raw = (head: string, chunks: Buffer[] = []) =>
      new Promise<string>((resolve, reject) => {
        const u = new URL(l.url);
        const socket = tls.connect({ host: u.hostname, port: Number(u.port), ca: l.rootPem, cert: boot.chainPem, key: boot.keyPem }, () => {
          socket.write(head);
          for (const c of chunks) socket.write(`${c.length.toString(16)}\r\n${c.toString("latin1")}\r\n`, "latin1");
        });
        let out = "";
        socket.on("data", (d) => {
          out += d.toString("latin1");
          if (/\r\n\r\n[\s\S]*\}$/.test(out)) socket.destroy();
        });
        socket.on("close", () => resolve(out));
        socket.on("error", (e) => (out ? resolve(out) : reject(e)));
      });
    const before = await footprint();
    const big = await raw(
      "POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: device\r\nContent-Type: application/pkcs10\r\nTransfer-Encoding: chunked\r\n\r\n",
      Array.from({ length: 8 }, () => Buffer.alloc(16 * 1024, "A")),
    );
    expect(big).toMatch(/^HTTP\/1\.1 413 /);
    expect(big).toContain('"code":"body_too_large"');
    expect(await footprint()).toEqual(before);
    const ev = await db().auditEvent.findFirst({
      where: { action: "device.enroll", target: `certificate:${boot.serial}` },
      orderBy: { at: "desc" },
    });
    expect((ev?.details as { code?: string })?.code).toBe("body_too_large");
    expect(await raw("GET http://[::1 HTTP/1.1\r\nHost: device\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 [\s\S]*"code":"bad_request"/);
  });

  it("an older certificate re-enrolling → 403 clone_suspected, audited", async () => {
    const d = await enrolled(l, c.customer.id, boot, "dev-clone");
    const r = await est(l, "simplereenroll", d, csrFor("dev-clone"));
    expect(r.status).toBe(200);
    await refused(() => est(l, "simplereenroll", d, csrFor("dev-clone")), 403, "clone_suspected");
    const ev = await db().auditEvent.findFirst({ where: { action: "clone_suspected", target: `certificate:${d.serial}` } });
    expect(ev?.outcome).toBe("refused");
  });

  it("an older certificate re-enrolling after the newer one was used (revoked as superseded) → 403, audited as clone_suspected", async () => {
    const d = await enrolled(l, c.customer.id, boot, "dev-clone-2");
    const key = generateKey();
    const r = await est(l, "simplereenroll", d, csrFor("dev-clone-2", key), "application/pem-certificate-chain");
    expect(r.status).toBe(200);
    const newer = { keyPem: key.export({ type: "pkcs8", format: "pem" }) as string, chainPem: r.res!.body.toString("utf8") };
    // the clone uses its new certificate first: the device's older one is revoked as superseded
    expect((await est(l, "cacerts", newer)).status).toBe(200);
    await refused(() => est(l, "simplereenroll", d, csrFor("dev-clone-2")), 403, "cert_revoked");
    const ev = await db().auditEvent.findFirst({ where: { action: "clone_suspected", target: `certificate:${d.serial}` } });
    expect(ev?.outcome).toBe("refused");
  });

  it("a rotation sent again (its answer lost) → the same certificate, not a clone; another key or a revoked answer → 403 clone_suspected", async () => {
    const d = await enrolled(l, c.customer.id, boot, "dev-again");
    const key = generateKey();
    const first = await est(l, "simplereenroll", d, csrFor("dev-again", key), PEM);
    expect(first.status).toBe(200);
    const before = await footprint();
    const again = await est(l, "simplereenroll", d, csrFor("dev-again", key), PEM);
    expect(again.status).toBe(200);
    expect(again.res?.body.toString()).toBe(first.res?.body.toString());
    expect(await footprint()).toEqual(before);
    expect(await db().auditEvent.count({ where: { action: "clone_suspected", target: `certificate:${d.serial}` } })).toBe(0);
    // the same key under another device id, or another key: not this request
    await refused(() => est(l, "simplereenroll", d, csrFor("dev-other", key)), 403, "clone_suspected");
    await refused(() => est(l, "simplereenroll", d, csrFor("dev-again")), 403, "clone_suspected");
    expect(await db().auditEvent.count({ where: { action: "clone_suspected", target: `certificate:${d.serial}` } })).toBe(1);
    // the answer was revoked meanwhile: it is not sent again
    const newest = await db().certificate.findFirstOrThrow({
      where: { customerId: c.customer.id, device: { deviceId: "dev-again" } },
      orderBy: { createdAt: "desc" },
    });
    await revokeCertificate({ serial: newest.serial, reason: "keyCompromise", customerId: c.customer.id, actor: system });
    await refused(() => est(l, "simplereenroll", d, csrFor("dev-again", key)), 403, "clone_suspected");
    // once the new certificate was used, the old one is retired: refused before any repeat is considered
    await db().certificate.update({ where: { id: newest.id }, data: { firstUsedAt: new Date() } });
    await refused(() => est(l, "simplereenroll", d, csrFor("dev-again", key)), 403, "cert_superseded");
  });

  it("the same rotation twice at once (sent again while the first was in flight): both get the one certificate", async () => {
    const d = await enrolled(l, c.customer.id, boot, "dev-twin");
    const key = generateKey();
    const before = await footprint();
    const [a, b] = await Promise.all([1, 2].map(() => est(l, "simplereenroll", d, csrFor("dev-twin", key), PEM)));
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.res?.body.toString()).toBe(b.res?.body.toString());
    expect((await footprint()).certificates).toBe(before.certificates + 1);
    expect(await db().auditEvent.count({ where: { action: "clone_suspected", target: `certificate:${d.serial}` } })).toBe(0);
  });
});
