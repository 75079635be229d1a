// Time limits of the device listener (a slowloris client cannot hold sockets) and of the device SDK (a silent
// server cannot hold the device), over real TLS on localhost.
import net, { type AddressInfo } from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EstError, estRequest } from "../../lib/device-sdk/index.ts";
import { metrics } from "../../lib/metrics.ts";
import { testDb } from "../../tests/db.ts";
import { issueListenerTls } from "../device-tls.ts";
import { est, type Listener, startListener } from "./testing.ts";

testDb();
const LIMIT_MS = 600;
let l: Listener;
beforeAll(async () => {
  l = await startListener({ requestTimeoutMs: LIMIT_MS });
});
afterAll(() => l.close());

const port = () => Number(new URL(l.url).port);

/** How many connections pss_refusals_total has counted under `code`. */
async function refused(code: string): Promise<number> {
  return (await metrics.refusals.get()).values.find((v) => v.labels.code === code)?.value ?? 0;
}

/** Resolves true once the server has `n` connections open, false if it has not within `ms`. */
async function connectionsReach(server: Listener["server"], n: number, ms = 5_000): Promise<boolean> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const open = await new Promise<number>((r) => server.getConnections((_e, count) => r(count)));
    if (open === n) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/** Milliseconds until the server closes `socket` (read on, or the end of the stream is never seen). */
function closedAfter(socket: net.Socket, started: number): Promise<number> {
  return new Promise((resolve) => {
    socket.on("error", () => {});
    socket.resume();
    socket.once("close", () => resolve(performance.now() - started));
  });
}

describe("device listener time limits", () => {
  it("a client that sends half a request header is disconnected within the limit", async () => {
    const s = tls.connect({ host: "127.0.0.1", port: port(), ca: l.rootPem, servername: "localhost" });
    await new Promise<void>((r) => s.once("secureConnect", () => r()));
    const started = performance.now();
    s.write("POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: localhost\r\nContent-Type: applica");
    const ms = await closedAfter(s, started);
    expect(ms).toBeGreaterThanOrEqual(LIMIT_MS - 50);
    expect(ms).toBeLessThan(LIMIT_MS + 5_000);
  });

  it("a client that sends the headers but not the whole body is disconnected within the limit", async () => {
    const s = tls.connect({ host: "127.0.0.1", port: port(), ca: l.rootPem, servername: "localhost" });
    await new Promise<void>((r) => s.once("secureConnect", () => r()));
    const started = performance.now();
    s.write("POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\nMIIB");
    const ms = await closedAfter(s, started);
    expect(ms).toBeLessThan(LIMIT_MS + 5_000);
  });

  it("a TCP client that never completes the TLS handshake is disconnected within the limit", async () => {
    const started = performance.now();
    const s = net.connect({ host: "127.0.0.1", port: port() });
    s.write(Buffer.from([0x16, 0x03, 0x01])); // the first bytes of a ClientHello, then nothing
    const ms = await closedAfter(s, started);
    expect(ms).toBeGreaterThanOrEqual(LIMIT_MS - 50);
    expect(ms).toBeLessThan(LIMIT_MS + 5_000);
  });

  it("an idle kept-alive connection is closed; a prompt request is answered", async () => {
    const s = tls.connect({ host: "127.0.0.1", port: port(), ca: l.rootPem, servername: "localhost" });
    await new Promise<void>((r) => s.once("secureConnect", () => r()));
    const answered = new Promise<string>((r) => s.once("data", (d: Buffer) => r(d.toString("latin1"))));
    s.write("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect(await answered).toMatch(/^HTTP\/1\.1 200/);
    const ms = await closedAfter(s, performance.now());
    // Node adds one second to keepAliveTimeout, for clients whose own idle timer races the server's
    expect(ms).toBeLessThan(LIMIT_MS + 6_000);
  });
});

describe("device listener handshake deadline", () => {
  it("a TCP client that sends nothing is closed after the handshake deadline, long before the request timeout", async () => {
    const short = await startListener({ requestTimeoutMs: 20_000, handshakeTimeoutMs: 300 });
    try {
      const started = performance.now();
      const s = net.connect({ host: "127.0.0.1", port: Number(new URL(short.url).port) });
      const ms = await closedAfter(s, started);
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(10_000);
    } finally {
      await short.close();
    }
  });

  it("a handshake that completes in time is not cut off by the deadline", async () => {
    const short = await startListener({ requestTimeoutMs: 20_000, handshakeTimeoutMs: 300 });
    try {
      const s = tls.connect({ host: "127.0.0.1", port: Number(new URL(short.url).port), ca: short.rootPem, servername: "localhost" });
      await new Promise<void>((r) => s.once("secureConnect", () => r()));
      let closed = false;
      s.once("close", () => {
        closed = true;
      });
      await new Promise((r) => setTimeout(r, 900));
      expect(closed).toBe(false);
      s.destroy();
    } finally {
      await short.close();
    }
  });
});

describe("device listener cap per client address", () => {
  it("closes one address's connections beyond DEVICE_MAX_CONNECTIONS_PER_ADDRESS at once; other addresses are served", async () => {
    const capped = await startListener({ requestTimeoutMs: 20_000, handshakeTimeoutMs: 20_000, maxConnectionsPerAddress: 3 });
    const port = Number(new URL(capped.url).port);
    const silent = () => net.connect({ host: "127.0.0.1", port, localAddress: "127.0.0.1" });
    const held: net.Socket[] = [];
    try {
      const before = await refused("device_address_connection_limit");
      for (let i = 0; i < 3; i++) {
        const s = silent();
        s.on("error", () => {});
        held.push(s);
      }
      expect(await connectionsReach(capped.server, 3)).toBe(true);

      // four more from the same address, sending nothing: each closed on arrival, not after the handshake deadline
      const started = performance.now();
      const closes = await Promise.all(Array.from({ length: 4 }, () => closedAfter(silent(), started)));
      expect(Math.max(...closes)).toBeLessThan(10_000);
      expect(held.map((s) => s.destroyed)).toEqual([false, false, false]);
      expect((await refused("device_address_connection_limit")) - before).toBe(4);

      // a device on another address completes its handshake and is answered
      const r = await est(capped, "cacerts", null, undefined, undefined, "127.0.0.2");
      expect(r.status).toBe(200);

      // the count goes down when a connection closes: the first address gets a slot again
      held.shift()?.destroy();
      // (a refused connection fails the request with a reset: status 0)
      const fromFirst = () =>
        est(capped, "cacerts", null, undefined, undefined, "127.0.0.1").then(
          (x) => x.status,
          () => 0,
        );
      let status = await fromFirst();
      for (let i = 0; status !== 200 && i < 50; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = await fromFirst();
      }
      expect(status).toBe(200);
    } finally {
      for (const s of held) s.destroy();
      await capped.close();
    }
  });
});

describe("device SDK time limit", () => {
  let silent: tls.Server;
  let url: string;
  beforeAll(async () => {
    const material = await issueListenerTls();
    // completes the handshake, reads the request, never answers
    silent = tls.createServer({ key: material.key, cert: material.cert }, (s) => s.on("data", () => {}));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    url = `https://localhost:${(silent.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => silent.close(() => r())));

  it("a server that never answers fails the request with code timeout", async () => {
    const started = performance.now();
    const err = await estRequest({ url, ca: l.rootPem, timeoutMs: 400 }, "cacerts").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EstError);
    expect((err as EstError).code).toBe("timeout");
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe("device listener connection cap", () => {
  it("closes connections beyond DEVICE_MAX_CONNECTIONS at once, and takes new ones when some close", async () => {
    const capped = await startListener({ requestTimeoutMs: 5_000, maxConnections: 2 });
    const connect = () => {
      const s = tls.connect({ host: "127.0.0.1", port: Number(new URL(capped.url).port), ca: capped.rootPem, servername: "localhost" });
      return new Promise<{ socket: tls.TLSSocket; ok: boolean }>((resolve) => {
        s.once("secureConnect", () => resolve({ socket: s, ok: true }));
        s.once("error", () => resolve({ socket: s, ok: false }));
        s.once("close", () => resolve({ socket: s, ok: false }));
      });
    };
    try {
      const [a, b] = [await connect(), await connect()];
      expect([a.ok, b.ok]).toEqual([true, true]);
      const before = await refused("device_connection_limit");
      expect((await connect()).ok).toBe(false);
      expect((await refused("device_connection_limit")) - before).toBe(1);
      a.socket.destroy();
      // the server frees the slot when it handles the close: try again until it has
      let d = await connect();
      for (let i = 0; !d.ok && i < 50; i++) {
        await new Promise((r) => setTimeout(r, 100));
        d = await connect();
      }
      expect(d.ok).toBe(true);
      for (const s of [b, d]) s.socket.destroy();
    } finally {
      await capped.close();
    }
  });
});
