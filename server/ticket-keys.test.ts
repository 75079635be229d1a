// TLS session ticket keys: the ratchet (in step across workers, forward only), and over real TLS that a ticket
// resumes within its period, on a second listener started from the same state (another worker), and no longer
// once the keys have rotated — the device then makes a full handshake and is still served.
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDb } from "../tests/db.ts";
import { type Credential, type Listener, newBootstrap, newCustomer, startListener } from "./est/testing.ts";
import { TicketKeyRatchet } from "./ticket-keys.ts";

testDb();

describe("ticket key ratchet", () => {
  const T0 = 1_700_000_000_000;
  const HOUR = 3_600_000;

  it("gives every holder of one state the same keys, new ones each period", () => {
    const a = new TicketKeyRatchet(undefined, { now: T0 });
    const b = new TicketKeyRatchet(a.share(T0));
    expect(a.keysAt(T0)).toHaveLength(48);
    expect(b.keysAt(T0)).toEqual(a.keysAt(T0));
    const next = a.keysAt(T0 + HOUR);
    expect(next).not.toEqual(b.keysAt(T0));
    expect(b.keysAt(T0 + HOUR)).toEqual(next);
    // a worker forked later starts from the state of its own period and agrees with the others
    expect(new TicketKeyRatchet(a.share(T0 + 5 * HOUR)).keysAt(T0 + 5 * HOUR)).toEqual(b.keysAt(T0 + 5 * HOUR));
  });

  it("only moves forward: an earlier period's keys cannot be had again", () => {
    const a = new TicketKeyRatchet(undefined, { now: T0 });
    const first = a.keysAt(T0);
    const later = a.keysAt(T0 + 2 * HOUR);
    expect(a.keysAt(T0)).toEqual(later);
    expect(later).not.toEqual(first);
    expect(a.share(T0).epoch).toBe(a.epochAt(T0 + 2 * HOUR));
  });

  it("two independent ratchets share nothing; a malformed state is refused", () => {
    expect(new TicketKeyRatchet(undefined, { now: T0 }).keysAt(T0)).not.toEqual(new TicketKeyRatchet(undefined, { now: T0 }).keysAt(T0));
    expect(() => new TicketKeyRatchet({ state: "c2hvcnQ=", epoch: 1, periodMs: HOUR })).toThrow(/32 bytes/);
    expect(() => new TicketKeyRatchet(undefined, { periodMs: 0 })).toThrow(/positive/);
  });
});

describe("session tickets over TLS", () => {
  const PERIOD_MS = 10_000;
  let boot: Credential;
  let a: Listener;
  let b: Listener;
  let other: Listener;
  let ratchet: TicketKeyRatchet;

  beforeAll(async () => {
    ratchet = new TicketKeyRatchet(undefined, { periodMs: PERIOD_MS });
    a = await startListener({ tickets: ratchet });
    b = await startListener({ tickets: new TicketKeyRatchet(ratchet.share()) });
    other = await startListener({ tickets: new TicketKeyRatchet(undefined, { periodMs: PERIOD_MS }) });
    boot = await newBootstrap(await newCustomer("Tickets"));
  });
  afterAll(async () => {
    await Promise.all([a, b, other].map((l) => l?.close()));
  });

  /** GET /cacerts with the bootstrapping certificate on a new connection; resumes `session` when given. */
  const exchange = (l: Listener, session?: Buffer) =>
    new Promise<{ status: string; reused: boolean; session?: Buffer }>((resolve, reject) => {
      const u = new URL(l.url);
      let response = "";
      let next: Buffer | undefined;
      let reused = false;
      const socket = tls.connect(
        {
          host: "127.0.0.1",
          servername: "localhost",
          port: Number(u.port),
          ca: l.rootPem,
          cert: boot.chainPem,
          key: boot.keyPem,
          ...(session ? { session } : {}),
        },
        () => {
          reused = socket.isSessionReused();
          socket.write("GET /.well-known/est/cacerts HTTP/1.1\r\nHost: device\r\nConnection: close\r\n\r\n");
        },
      );
      socket.on("session", (s: Buffer) => {
        next = s;
      });
      socket.on("data", (d) => {
        response += d.toString("latin1");
      });
      socket.on("close", () => resolve({ status: response.split("\r\n")[0], reused, session: next }));
      socket.on("error", reject);
    });

  /** Waits until a period has just begun, so what follows runs within one period (a timer may fire early: check). */
  const startOfPeriod = async () => {
    const epoch = ratchet.epochAt(Date.now());
    while (ratchet.epochAt(Date.now()) === epoch) await new Promise((r) => setTimeout(r, ratchet.msToNext() + 20));
  };

  it("resumes within the period, on another listener of the same state too, and not after the rotation", async () => {
    await startOfPeriod();
    const first = await exchange(a);
    expect(first.status).toBe("HTTP/1.1 200 OK");
    expect(first.reused).toBe(false);
    expect(first.session).toBeDefined();
    const again = await exchange(a, first.session);
    expect(again).toMatchObject({ status: "HTTP/1.1 200 OK", reused: true });
    // another worker of the same cluster
    expect(await exchange(b, first.session)).toMatchObject({ status: "HTTP/1.1 200 OK", reused: true });
    // a listener with keys of its own cannot read the ticket: a full handshake, and the device is served
    expect(await exchange(other, first.session)).toMatchObject({ status: "HTTP/1.1 200 OK", reused: false });

    await startOfPeriod();
    const rotated = await exchange(a, first.session);
    expect(rotated).toMatchObject({ status: "HTTP/1.1 200 OK", reused: false });
    expect(await exchange(b, first.session)).toMatchObject({ reused: false });
    // the new period's ticket resumes on both again
    expect(await exchange(b, rotated.session)).toMatchObject({ status: "HTTP/1.1 200 OK", reused: true });
  }, 60_000);
});
