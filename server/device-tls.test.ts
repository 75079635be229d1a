// The device listener's certificate is replaced while the process runs: when it is revoked, when the TLS
// Intermediate that issued it is rotated, and before it expires — over real TLS, new connections get the new
// certificate (verified to the root) and a session from before still resumes. A database of its own on
// PostgreSQL too: rotating the shared TLS Intermediate would race other files' issuance.
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { activeCa, ensureHierarchy, rotateCa } from "../lib/data/ca/hierarchy.ts";
import { testDb } from "../tests/db.ts";
import { createDeviceListener, replaceListenerTls } from "./device-listener.ts";
import { issueListenerTls, keepListenerTlsFresh, type ListenerTls, listenerTlsStale } from "./device-tls.ts";
import { system } from "./est/testing.ts";
import { TicketKeyRatchet } from "./ticket-keys.ts";

const db = testDb({ own: true });
beforeAll(() => ensureHierarchy(system));

/**
 * A new connection to the listener, verified to the root: the serial of the certificate it presented (null when the
 * session resumed: no certificate is sent then), whether it resumed, and the session ticket it got.
 */
function presented(port: number, ca: string, session?: Buffer) {
  return new Promise<{ serial: string | null; reused: boolean; session?: Buffer }>((resolve, reject) => {
    let ticket: Buffer | undefined;
    const s = tls.connect({ host: "127.0.0.1", servername: "localhost", port, ca, ...(session ? { session } : {}) }, () => {
      const reused = s.isSessionReused();
      const serial = reused ? null : s.getPeerCertificate().serialNumber.toLowerCase().replace(/^0+/, "");
      // TLS 1.3 tickets arrive just after the handshake
      setTimeout(() => {
        s.end();
        resolve({ serial, reused, session: ticket });
      }, 200);
    });
    s.on("session", (t: Buffer) => {
      ticket = t;
    });
    s.on("error", reject);
  });
}

describe("device listener certificate", () => {
  it("is stale when revoked, unknown, or within 30 days of its end (a rotated issuer: next test)", async () => {
    const material = await issueListenerTls();
    expect(await listenerTlsStale(material)).toBeNull();
    const row = await db.certificate.findUniqueOrThrow({ where: { serial: material.serial } });
    expect(await listenerTlsStale(material, new Date(row.notAfter.getTime() - 29 * 86_400_000))).toMatch(/expires within 30 days/);
    await db.certificate.update({ where: { id: row.id }, data: { revokedAt: new Date(), revocationReason: "keyCompromise" } });
    expect(await listenerTlsStale(material)).toMatch(/revoked/);
    expect(await listenerTlsStale({ ...material, serial: "abc123" })).toMatch(/not in the database/);
  });

  let server: ReturnType<typeof createDeviceListener>;
  let port: number;
  let stop = () => {};
  afterAll(async () => {
    stop();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  it("a running listener presents a new certificate once the TLS Intermediate rotates; sessions from before still resume", async () => {
    const first = await issueListenerTls();
    // one ticket key period for the whole test
    server = createDeviceListener(first, { sweepMs: 0, tickets: new TicketKeyRatchet(undefined, { periodMs: 86_400_000 }) });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
    const applied: ListenerTls[] = [];
    stop = keepListenerTlsFresh(
      first,
      (next) => {
        applied.push(next);
        replaceListenerTls(server, next);
      },
      { everyMs: 100 },
    );
    const before = await presented(port, first.ca);
    expect(before.serial).toBe(first.serial);

    const old = await activeCa({ kind: "TLS_INTERMEDIATE" });
    const { active } = await rotateCa(old.ca.id, system);
    await expect.poll(() => applied.length, { timeout: 10_000 }).toBe(1);
    expect(applied[0].serial).not.toBe(first.serial);
    expect(await presented(port, first.ca)).toMatchObject({ serial: applied[0].serial, reused: false });
    // a session from before the new certificate resumes
    expect(before.session).toBeDefined();
    expect(await presented(port, first.ca, before.session)).toMatchObject({ reused: true });
    const row = await db.certificate.findUniqueOrThrow({ where: { serial: applied[0].serial } });
    expect(row.issuerId).toBe(active.id);
    // the replaced certificate's key is gone: it is revoked as superseded
    await expect
      .poll(async () => (await db.certificate.findUniqueOrThrow({ where: { serial: first.serial } })).revocationReason, { timeout: 15_000 })
      .toBe("superseded");
    // good now: nothing more is replaced
    await new Promise((r) => setTimeout(r, 400));
    expect(applied).toHaveLength(1);
  });
});
