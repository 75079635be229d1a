// The product with its CA keys on a PKCS#11 token (SoftHSM2): a deployment that switches from software keys to
// the token keeps its hierarchy, creates new customers' CAs on the token, and the device listener in a cluster
// worker (a process of its own, with its own login) signs devices' certificates there. openssl checks the chain
// and the CRL the token signed.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ensureHierarchy, rotateCa } from "../lib/data/ca/hierarchy.ts";
import { keyStore } from "../lib/data/ca/key-store.ts";
import { listCas } from "../lib/data/ca/list-cas.ts";
import { publishCrl } from "../lib/data/revocation/crl.ts";
import { revokeCertificate } from "../lib/data/revocation/revoke-certificate.ts";
import { closeDb, db, openDatabase } from "../lib/db/client.ts";
import { serveEmbedded } from "../lib/db/embedded.ts";
import { Device } from "../lib/device-sdk/index.ts";
import { env, overrideEnv } from "../lib/env.ts";
import { toPem } from "../lib/pki/der.ts";
import { opensslAsync, scratchDir } from "../lib/pki/testing/ca-fixture.ts";
import { testTokenEnv } from "../lib/pki/testing/softhsm.ts";
import { ownPostgres } from "../tests/db.ts";
import { type DeviceCluster, startDeviceCluster } from "./device-cluster.ts";
import { issueListenerTls } from "./device-tls.ts";
import { newBootstrap, newCustomer, system } from "./est/testing.ts";

const target = inject("pssTestDb");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "pss-pkcs11-"));
let served: Awaited<ReturnType<typeof serveEmbedded>> | null = null;
let cluster: DeviceCluster;
let url: string;
let rootPem: string;

const forgetKeys = () => {
  (globalThis as { __pssKeys?: unknown }).__pssKeys = undefined;
};

let own: ReturnType<typeof ownPostgres> | undefined;

beforeAll(async () => {
  // on PostgreSQL a database of this file's own: every process checks at start that it can reach every stored key,
  // and the other test files sharing TEST_DATABASE_URL have no token
  if (target.kind === "postgres") {
    own = ownPostgres(target.url);
    openDatabase({ kind: "postgres", url: own.url });
  } else {
    const dir = path.join(scratch, "pglite");
    fs.cpSync(target.dir, dir, { recursive: true });
    served = await serveEmbedded(dir, path.join(scratch, "run"));
    openDatabase(served.target);
  }
  // the hierarchy with software keys, as a deployment from before the token has it
  await ensureHierarchy(system);
  // then the token: this process, and the worker started below, which reads it from its environment
  const tokenEnv = testTokenEnv();
  Object.assign(process.env, tokenEnv);
  overrideEnv(tokenEnv);
  forgetKeys();
  const tls = await issueListenerTls();
  rootPem = tls.ca;
  cluster = await startDeviceCluster({
    tls,
    count: 1,
    port: 0,
    host: "127.0.0.1",
    target: served?.target ?? { kind: "postgres", url: own!.url },
    sweepMs: 0,
  });
  url = `https://localhost:${cluster.port}`;
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  forgetKeys();
  await closeDb();
  await served?.close();
  own?.drop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe("CA keys on a PKCS#11 token", () => {
  it("a new customer's CAs are on the token; a device enrolled through a worker chains to the root and its CRL verifies", async () => {
    const c = await newCustomer("Hsm");
    const cas = await listCas({ customerId: c.customer.id });
    expect(cas.map((ca) => [ca.kind, ca.keyStore])).toEqual([
      ["CUSTOMER_TLS_ISSUING", "pkcs11"],
      ["APPLICATION", "pkcs11"],
    ]);
    const refs = await db().certificateAuthority.findMany({ where: { customerId: c.customer.id }, select: { keyRef: true } });
    const rows = await db().keyMaterial.findMany({ where: { ref: { in: refs.map((r) => r.keyRef) } } });
    for (const row of rows)
      expect(row).toMatchObject({ store: "pkcs11", iv: null, ciphertext: null, tag: null, token: expect.any(String) });

    // the bootstrapping certificate comes from the software-keyed Bootstrapping Issuing CA: both stores sign
    const boot = await newBootstrap(c);
    const device = await Device.enroll({
      dir: path.join(scratch, "device"),
      url,
      ca: rootPem,
      bootstrapCert: boot.chainPem,
      bootstrapKey: boot.keyPem,
      deviceId: "hsm-1",
    });
    const dir = scratchDir();
    try {
      const verified = await opensslAsync([
        "verify",
        "-x509_strict",
        "-purpose",
        "sslclient",
        "-CAfile",
        dir.write("root.pem", rootPem),
        "-untrusted",
        device.file("device-chain.pem"),
        device.file("device.crt"),
      ]);
      expect(verified.out).toContain(": OK");

      // a revocation: the issuing CA's new CRL is signed on the token
      const serial = device.certificate().serialNumber.toLowerCase();
      await revokeCertificate({ serial, reason: "keyCompromise", actor: system });
      const cert = await db().certificate.findUniqueOrThrow({ where: { serial: serial.replace(/^0+/, "") }, include: { issuer: true } });
      const crl = await db().crl.findFirstOrThrow({ where: { caId: cert.issuerId }, orderBy: { number: "desc" } });
      const checked = await opensslAsync([
        "crl",
        "-inform",
        "DER",
        "-in",
        dir.write("ca.crl", crl.der),
        "-CAfile",
        dir.write("issuer.pem", toPem("CERTIFICATE", cert.issuer.certDer)),
        "-noout",
        "-verify",
        "-text",
      ]);
      expect(checked.out).toContain("verify OK");
      expect(checked.out).toContain("Key Compromise");
    } finally {
      dir.cleanup();
    }
  });

  it("with DATABASE_URL a token stands in for the master key, but not for keys sealed under one: checked at start", async () => {
    const saved = env();
    try {
      overrideEnv({ embedded: false, PSS_MASTER_KEY: undefined });
      forgetKeys();
      // the hierarchy's keys are sealed under the master key: without it this process could not sign with them
      await expect(keyStore()).rejects.toMatchObject({ code: "master_key_required" });
      // and a process without the token, while keys on it are stored
      overrideEnv({ ...saved, PSS_PKCS11_MODULE: undefined, PSS_PKCS11_TOKEN_LABEL: undefined, PSS_PKCS11_PIN: undefined });
      forgetKeys();
      await expect(keyStore()).rejects.toMatchObject({ code: "pkcs11_not_configured" });
    } finally {
      overrideEnv(saved);
      forgetKeys();
    }
  });

  it("rotating a software-keyed CA puts its next generation on the token; the retired one still signs its CRL", async () => {
    const tls = await db().certificateAuthority.findFirstOrThrow({ where: { kind: "TLS_INTERMEDIATE", status: "ACTIVE" } });
    const rotated = await rotateCa(tls.id, system);
    const cas = new Map((await listCas()).map((ca) => [ca.id, ca.keyStore]));
    expect([cas.get(rotated.retired.id), cas.get(rotated.active.id)]).toEqual(["software", "pkcs11"]);
    await expect(publishCrl(rotated.retired.id)).resolves.toBeDefined();
    // a customer onboarded now: both its CAs signed on the token, by the token's intermediate
    const c = await newCustomer("Hsm Rotated");
    const issuing = await db().certificateAuthority.findFirstOrThrow({
      where: { customerId: c.customer.id, kind: "CUSTOMER_TLS_ISSUING" },
    });
    expect(issuing.parentId).toBe(rotated.active.id);
  });
});
