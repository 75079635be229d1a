// What the portal's web server settles in each request before Next.js sees it: paths Next.js must not rewrite,
// and the client's address.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import { CLIENT_ADDRESS_HEADER } from "../lib/api/http.ts";

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
