import { describe, expect, it } from "vitest";
import { clientAddress, keepOcspSlashes, metricsAllowed } from "./web-request.ts";

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
