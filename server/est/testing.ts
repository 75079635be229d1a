// Test helpers for the device listener: a running listener on a free port, customers, bootstrapping
// certificates, and an mTLS request function. Tests only.
import type { KeyObject } from "node:crypto";
import type https from "node:https";
import type { AddressInfo } from "node:net";
import { expect } from "vitest";
import { ensureHierarchy } from "../../lib/data/ca/hierarchy.ts";
import { issueAndStore } from "../../lib/data/certificates/issue-certificate.ts";
import { createCustomer } from "../../lib/data/customers/create-customer.ts";
import { db } from "../../lib/db/client.ts";
import { buildCsr, type EstConnection, EstError, type EstResponse, estRequest, generateKey } from "../../lib/device-sdk/index.ts";
import { createCsr } from "../../lib/pki/csr.ts";
import { newPrivateKey } from "../../lib/pki/keygen.ts";
import { createDeviceListener } from "../device-listener.ts";
import { issueListenerTls } from "../device-tls.ts";
import type { TicketKeyRatchet } from "../ticket-keys.ts";
import type { DeviceLimits } from "./limits.ts";

export const system = { type: "system", id: "test" } as const;

export type Listener = { server: https.Server; url: string; rootPem: string; close(): Promise<void> };

export async function startListener({ tickets, ...limits }: DeviceLimits & { tickets?: TicketKeyRatchet } = {}): Promise<Listener> {
  await ensureHierarchy(system);
  const tls = await issueListenerTls();
  const server = createDeviceListener(tls, { sweepMs: 0, limits, ...(tickets ? { tickets } : {}) });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    url: `https://localhost:${port}`,
    rootPem: tls.ca,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

let n = 0;
// The customers this test file created: footprints count their rows only, so test files can share one
// PostgreSQL database (TEST_DATABASE_URL) and run side by side.
const mine = new Set<string>();

export async function newCustomer(label = "Acme") {
  const suffix = `${Date.now().toString(36)}${(n++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const c = await createCustomer(
    { name: `${label} ${suffix}`, adminEmail: `admin-${suffix}@example.test`, adminPassword: "a-long-password-1" },
    system,
  );
  mine.add(c.customer.id);
  return c;
}

export type Credential = { key: KeyObject; keyPem: string; certPem: string; chainPem: string; serial: string; id: string };

/** A bootstrapping certificate for the customer: key + certificate with its intermediates (no root). */
export async function newBootstrap(customer: { customer: { id: string }; user: { uid: string } }): Promise<Credential> {
  const privateKey = newPrivateKey();
  const issued = await issueAndStore({
    profile: "bootstrap",
    csr: createCsr({ key: privateKey }),
    customerId: customer.customer.id,
    uid: customer.user.uid,
    authorizedBy: "test",
    actor: system,
  });
  return {
    key: privateKey,
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    certPem: issued.pem,
    chainPem: [issued.pem, ...issued.chainPem.slice(0, -1)].join(""),
    serial: issued.serialHex,
    id: issued.id,
  };
}

/** An EST request that returns the status and JSON error code instead of throwing. */
export async function est(
  l: Listener,
  op: string,
  cred: { keyPem: string; chainPem: string } | null,
  body?: string | Buffer,
  accept?: string,
  from?: string,
): Promise<{ status: number; code?: string; retryAfter?: number; res?: EstResponse }> {
  const conn: EstConnection = {
    url: l.url,
    ca: l.rootPem,
    ...(cred ? { cert: cred.chainPem, key: cred.keyPem } : {}),
    ...(from ? { localAddress: from } : {}),
  };
  try {
    const res = await estRequest(conn, op, {
      ...(body === undefined ? {} : { body: Buffer.isBuffer(body) ? body.toString("base64") : body }),
      ...(accept ? { accept } : {}),
    });
    return { status: res.status, res };
  } catch (e) {
    if (e instanceof EstError) return { status: e.status, code: e.code, retryAfter: e.retryAfterSeconds };
    throw e;
  }
}

/**
 * Enroll a device of the customer through the listener with a bootstrapping certificate; returns its Client
 * TLS credential (key, chain as PEM, serial). Throws unless the listener answers 200.
 */
export async function enrolled(l: Listener, customerId: string, boot: Credential, deviceId: string) {
  const key = generateKey();
  const r = await est(l, "simpleenroll", boot, buildCsr({ key, deviceId }), "application/pem-certificate-chain");
  if (r.status !== 200) throw new Error(`enrollment of ${deviceId} answered ${r.status} ${r.code ?? ""}`);
  const { serial } = await db().certificate.findFirstOrThrow({
    where: { customerId, device: { deviceId } },
    orderBy: { createdAt: "desc" },
  });
  return { key, keyPem: key.export({ type: "pkcs8", format: "pem" }) as string, chainPem: r.res!.body.toString("utf8"), serial };
}

/** A device's PKCS#10 request for a new key, with the one-time secret when given. */
export const deviceCsr = (deviceId: string, challengePassword?: string) =>
  buildCsr({ key: generateKey(), deviceId, ...(challengePassword ? { challengePassword } : {}) });

/** Awaits a request, expects its status and code, and that it wrote nothing (footprint) but its audit record. */
export async function expectRefused(p: Promise<{ status: number; code?: string }>, status: number, code: string) {
  const before = await footprint();
  const r = await p;
  expect({ status: r.status, code: r.code }).toEqual({ status, code });
  expect(await footprint()).toEqual(before);
}

/** Counts of what a refused request must not have written (for this file's customers). */
export async function footprint() {
  const customerId = { in: [...mine] };
  const [certificates, devices, secretsUsed] = await Promise.all([
    db().certificate.count({ where: { customerId } }),
    db().device.count({ where: { customerId } }),
    db().deviceSecret.count({ where: { customerId, usedAt: { not: null } } }),
  ]);
  return { certificates, devices, secretsUsed };
}
