// Request paths the portal's web server must pass to Next.js unchanged.

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
