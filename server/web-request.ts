// The portal's web server (portal, customer API, OCSP, CRL on PORT): its limits on slow clients and open
// connections, and what it settles in each request before Next.js sees it: paths Next.js must not rewrite, and
// the client's address.
import { createHash, timingSafeEqual } from "node:crypto";
import http, { type IncomingMessage } from "node:http";
import { isIP } from "node:net";
import { CLIENT_ADDRESS_HEADER } from "../lib/api/http.ts";
import { metrics } from "../lib/metrics.ts";

export type WebLimits = {
  /** open connections (WEB_MAX_CONNECTIONS); more are closed on arrival */
  maxConnections: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
};

/**
 * Node's defaults let a slow client (slowloris) hold a connection for 60 s with its headers and 300 s with its
 * request, with no cap on connections. A request's headers are a packet or two (20 s leaves room for a poor
 * link); the largest legitimate body, a manufacturing batch (at most 2 MiB), takes 60 s at about 300 kbit/s.
 * Only the request's arrival is timed: a response may take as long as it takes (a batch issuance), so no
 * idle-socket timeout either.
 */
export const WEB_TIMEOUTS = { headersTimeoutMs: 20_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 5_000 } as const;

/** The web port's HTTP server, with the limits (WEB_TIMEOUTS unless the caller gives others: tests). */
export function createWebServer(limits: WebLimits, listener: http.RequestListener): http.Server {
  const { maxConnections, headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = { ...WEB_TIMEOUTS, ...limits };
  const server = http.createServer(
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      keepAliveTimeout: keepAliveTimeoutMs,
      // Node checks the two timeouts in a sweep, by default every 30 s: at a quarter of the shorter, at most every second
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeoutMs / 4))),
    },
    listener,
  );
  // beyond this many open connections a new one is closed at once: descriptors stay for the device listener and
  // the database
  server.maxConnections = maxConnections;
  server.on("drop", () => metrics.refusals.inc({ code: "web_connection_limit" }));
  return server;
}

/**
 * OCSP GET (RFC 6960 A.1) carries base64 in the path, and base64 may contain "//". Next.js answers a path with
 * repeated slashes with a redirect to the collapsed path, which corrupts the request. Encoding the slashes after
 * `/ocsp/` keeps the segment intact: the responder URL-decodes it anyway.
 */
export function keepOcspSlashes(url: string): string {
  if (!url.startsWith("/ocsp/")) return url;
  const rest = url.slice("/ocsp/".length);
  return rest.includes("/") ? `/ocsp/${rest.replaceAll("/", "%2F")}` : url;
}

/**
 * The client's address: the socket's peer, or with `trustedHops` reverse proxies in front (each appending the
 * address it saw to X-Forwarded-For), the address the outermost of them saw. Entries further left were written by
 * the client and prove nothing; with fewer entries than hops (the port reached around the proxies, or a
 * misconfiguration), or an entry that is no IP address, only the peer is known.
 */
export function clientAddress(
  forwardedFor: string | string[] | undefined,
  peer: string | undefined,
  trustedHops: number,
): string | undefined {
  if (trustedHops === 0) return peer;
  const hops = [forwardedFor ?? []]
    .flat()
    .flatMap((h) => h.split(","))
    .map((h) => h.trim())
    .filter(Boolean);
  const chain = peer ? [...hops, peer] : hops;
  const at = chain.length - 1 - trustedHops;
  return at >= 0 && isIP(chain[at]) ? chain[at] : peer;
}

/** Adjust a request for Next.js: OCSP GET paths kept intact, the client's address in CLIENT_ADDRESS_HEADER (only). */
export function prepareWebRequest(req: IncomingMessage, trustedHops: number): void {
  if (req.url) req.url = keepOcspSlashes(req.url);
  const address = clientAddress(req.headers["x-forwarded-for"], req.socket.remoteAddress, trustedHops);
  if (address) req.headers[CLIENT_ADDRESS_HEADER] = address;
  else delete req.headers[CLIENT_ADDRESS_HEADER];
}

/**
 * Whether a /metrics request may read the metrics: always without a token configured (METRICS_TOKEN), else only
 * with `Authorization: Bearer <token>` (compared in constant time, over hashes so lengths do not show either).
 */
export function metricsAllowed(authorization: string | undefined, token: string | undefined): boolean {
  if (!token) return true;
  const m = /^Bearer (\S+)$/i.exec(authorization ?? "");
  if (!m) return false;
  const digest = (v: string) => createHash("sha256").update(v).digest();
  return timingSafeEqual(digest(m[1]), digest(token));
}
