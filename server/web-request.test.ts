import type http from "node:http";
import net, { type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { metrics } from "../lib/metrics.ts";
import { clientAddress, createWebServer, keepOcspSlashes, metricsAllowed, WEB_TIMEOUTS, type WebLimits } from "./web-request.ts";

describe("keepOcspSlashes", () => {
  it.each([
    ["/ocsp/MEUw//abc/d==", "/ocsp/MEUw%2F%2Fabc%2Fd=="],
    ["/ocsp//abc", "/ocsp/%2Fabc"],
    ["/ocsp/MEUwQzBB", "/ocsp/MEUwQzBB"],
    ["/ocsp", "/ocsp"],
    ["/crl//x.crl", "/crl//x.crl"],
    ["/api/v1//devices", "/api/v1//devices"],
  ])("%s → %s", (url, expected) => {
    expect(keepOcspSlashes(url)).toBe(expected);
  });
});

describe("clientAddress", () => {
  it.each([
    ["no proxy: the peer, whatever the client claims", "10.9.9.9", "203.0.113.7", 0, "203.0.113.7"],
    ["one proxy: what it appended", "10.9.9.9, 198.51.100.4", "192.168.0.2", 1, "198.51.100.4"],
    ["one proxy, no header: the proxy itself", undefined, "192.168.0.2", 1, "192.168.0.2"],
    ["two proxies", "10.9.9.9, 198.51.100.4, 172.16.0.5", "192.168.0.2", 2, "198.51.100.4"],
    ["more hops than entries (reached around the proxies): the peer", "198.51.100.4", "192.168.0.2", 5, "192.168.0.2"],
    ["an entry that is no address: the peer", "10.9.9.9, <script>", "192.168.0.2", 1, "192.168.0.2"],
    ["IPv6", "2001:db8::7", "::1", 1, "2001:db8::7"],
    ["repeated headers count as one list", ["10.9.9.9", "198.51.100.4"], "192.168.0.2", 1, "198.51.100.4"],
  ])("%s", (_name, xff, peer, hops, expected) => {
    expect(clientAddress(xff, peer, hops)).toBe(expected);
  });
});

describe("metricsAllowed", () => {
  const token = "a-scraper-token-of-32-characters";
  it.each<[string | undefined, string | undefined, boolean]>([
    [undefined, undefined, true], // no token configured: open, as before
    ["Bearer anything", undefined, true],
    [undefined, token, false],
    [`Bearer ${token}`, token, true],
    [`bearer ${token}`, token, true],
    [`Bearer ${token}x`, token, false],
    [`Bearer ${token.slice(0, -1)}`, token, false],
    [`Basic ${Buffer.from(`u:${token}`).toString("base64")}`, token, false],
    [`Bearer  ${token}`, token, false],
  ])("%s with token %s → %s", (authorization, configured, allowed) => {
    expect(metricsAllowed(authorization, configured)).toBe(allowed);
  });
});

describe("createWebServer limits", () => {
  const answer: http.RequestListener = (_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
  };

  /** A web server on a free loopback port, closed (with its connections) by `stop`. */
  async function serve(limits: WebLimits, listener = answer) {
    const server = createWebServer(limits, listener);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const stop = () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      });
    return { server, port, stop };
  }

  /** Milliseconds until the server closes `socket`, and what it sent. */
  function closed(socket: net.Socket, started: number): Promise<{ ms: number; received: string }> {
    let received = "";
    return new Promise((resolve) => {
      socket.on("error", () => {});
      socket.on("data", (d: Buffer) => {
        received += d.toString("latin1");
      });
      socket.once("close", () => resolve({ ms: performance.now() - started, received }));
    });
  }

  const refused = async () => (await metrics.refusals.get()).values.find((v) => v.labels.code === "web_connection_limit")?.value ?? 0;

  it("has explicit limits, well under Node's defaults (60 s for headers, 300 s for a request)", () => {
    const server = createWebServer({ maxConnections: 123 }, answer);
    expect([server.headersTimeout, server.requestTimeout, server.keepAliveTimeout, server.maxConnections]).toEqual([
      WEB_TIMEOUTS.headersTimeoutMs,
      WEB_TIMEOUTS.requestTimeoutMs,
      WEB_TIMEOUTS.keepAliveTimeoutMs,
      123,
    ]);
    expect(server.headersTimeout).toBeLessThanOrEqual(30_000);
    expect(server.requestTimeout).toBeLessThanOrEqual(60_000);
  });

  it("cuts off a client that trickles its header bytes after the header timeout", async () => {
    const web = await serve({ maxConnections: 10, headersTimeoutMs: 300, requestTimeoutMs: 20_000 });
    const s = net.connect({ host: "127.0.0.1", port: web.port });
    const started = performance.now();
    const result = closed(s, started);
    // a header line every 100 ms: never idle long, never done
    s.write("GET / HTTP/1.1\r\nHost: localhost\r\n");
    const trickle = setInterval(() => s.writable && s.write(`X-Slow-${Math.random().toString(36).slice(2)}: 1\r\n`), 100);
    try {
      const { ms, received } = await result;
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(10_000);
      expect(received).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      clearInterval(trickle);
      s.destroy();
      await web.stop();
    }
  });

  it("times the request's arrival only: a slow answer to a complete request is not cut off", async () => {
    const web = await serve({ maxConnections: 10, headersTimeoutMs: 200, requestTimeoutMs: 300 }, (_req, res) => {
      setTimeout(() => res.writeHead(200).end("late\n"), 1_200);
    });
    try {
      const s = net.connect({ host: "127.0.0.1", port: web.port });
      const result = closed(s, performance.now());
      s.write("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
      expect((await result).received).toMatch(/^HTTP\/1\.1 200[\s\S]*late/);
    } finally {
      await web.stop();
    }
  });

  it("closes a connection beyond WEB_MAX_CONNECTIONS at once, and takes new ones when some close", async () => {
    const web = await serve({ maxConnections: 2 });
    const held = [net.connect({ host: "127.0.0.1", port: web.port }), net.connect({ host: "127.0.0.1", port: web.port })];
    for (const s of held) s.on("error", () => {});
    try {
      const until = performance.now() + 5_000;
      let open = 0;
      while (open < 2 && performance.now() < until) {
        await new Promise((r) => setTimeout(r, 20));
        open = await new Promise<number>((r) => web.server.getConnections((_e, n) => r(n)));
      }
      expect(open).toBe(2);

      const before = await refused();
      const started = performance.now();
      const extra = net.connect({ host: "127.0.0.1", port: web.port });
      const { ms, received } = await closed(extra, started);
      expect(ms).toBeLessThan(5_000);
      expect(received).toBe("");
      expect((await refused()) - before).toBe(1);
      expect(held.map((s) => s.destroyed)).toEqual([false, false]);

      // one held connection goes: a request is answered again (once the server has handled the close)
      held.shift()?.destroy();
      const get = async () => {
        const s = net.connect({ host: "127.0.0.1", port: web.port });
        const r = closed(s, performance.now());
        s.write("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        return (await r).received;
      };
      let body = await get();
      for (let i = 0; !body.startsWith("HTTP/1.1 200") && i < 50; i++) {
        await new Promise((r) => setTimeout(r, 100));
        body = await get();
      }
      expect(body).toMatch(/^HTTP\/1\.1 200/);
    } finally {
      for (const s of held) s.destroy();
      await web.stop();
    }
  });
});
