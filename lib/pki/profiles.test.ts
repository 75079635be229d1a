import { describe, expect, it } from "vitest";
import type { ParsedCsr } from "./csr.ts";
import { isPkiError } from "./errors.ts";
import { uidGeneralName } from "./names.ts";
import {
  addValidity,
  CA_PROFILES,
  deviceIdMatchesExpected,
  EKU,
  getCaProfile,
  getLeafProfile,
  LEAF_PROFILES,
  noCaRequested,
  noUnknownCriticalExtension,
  type RequestContext,
  type RequestValidator,
  requestedSansAreIssued,
  resolveDeviceId,
  subjectContext,
} from "./profiles.ts";

/** A parsed request with only the fields validators look at. */
function csr(over: Partial<ParsedCsr> = {}): ParsedCsr {
  return { extensions: [], sans: [], subject: [], ...over } as unknown as ParsedCsr;
}
const ctx = (over: Partial<RequestContext> = {}): RequestContext => ({ csr: csr(), issuedSans: [], ...over });

function run(v: RequestValidator, req: RequestContext): string {
  try {
    v(req);
    return "ok";
  } catch (e) {
    return isPkiError(e) ? e.code : "threw";
  }
}

describe("request validators (table)", () => {
  const uid = uidGeneralName("u1");
  const uri = { type: "uri" as const, value: "urn:pss:device:d1" };
  it.each<[string, RequestValidator, RequestContext, string]>([
    ["noCaRequested: none", noCaRequested, ctx(), "ok"],
    ["noCaRequested: CA:FALSE", noCaRequested, ctx({ csr: csr({ basicConstraints: { ca: false } }) }), "ok"],
    ["noCaRequested: CA:TRUE", noCaRequested, ctx({ csr: csr({ basicConstraints: { ca: true } }) }), "csr_ca_requested"],
    [
      "critical: known SAN",
      noUnknownCriticalExtension,
      ctx({ csr: csr({ extensions: [{ oid: "2.5.29.17", critical: true, value: Buffer.alloc(0) }] }) }),
      "ok",
    ],
    [
      "critical: keyUsage",
      noUnknownCriticalExtension,
      ctx({ csr: csr({ extensions: [{ oid: "2.5.29.15", critical: true, value: Buffer.alloc(0) }] }) }),
      "ok",
    ],
    [
      "non-critical unknown",
      noUnknownCriticalExtension,
      ctx({ csr: csr({ extensions: [{ oid: "1.2.3", critical: false, value: Buffer.alloc(0) }] }) }),
      "ok",
    ],
    [
      "critical unknown",
      noUnknownCriticalExtension,
      ctx({ csr: csr({ extensions: [{ oid: "1.2.3", critical: true, value: Buffer.alloc(0) }] }) }),
      "csr_critical_extension_unknown",
    ],
    [
      "critical nameConstraints",
      noUnknownCriticalExtension,
      ctx({ csr: csr({ extensions: [{ oid: "2.5.29.30", critical: true, value: Buffer.alloc(0) }] }) }),
      "csr_critical_extension_unknown",
    ],
    ["SAN: none requested", requestedSansAreIssued, ctx({ issuedSans: [uid, uri] }), "ok"],
    ["SAN: a part of it", requestedSansAreIssued, ctx({ csr: csr({ sans: [uri] }), issuedSans: [uid, uri] }), "csr_san_incomplete"],
    ["SAN: equal", requestedSansAreIssued, ctx({ csr: csr({ sans: [uri, uid] }), issuedSans: [uid, uri] }), "ok"],
    [
      "SAN: DNS not issued",
      requestedSansAreIssued,
      ctx({ csr: csr({ sans: [{ type: "dns", value: "x" }] }), issuedSans: [uid] }),
      "csr_san_not_allowed",
    ],
    [
      "SAN: other UID",
      requestedSansAreIssued,
      ctx({ csr: csr({ sans: [uidGeneralName("u2")] }), issuedSans: [uid] }),
      "csr_san_not_allowed",
    ],
    [
      "SAN: URI differing in case",
      requestedSansAreIssued,
      ctx({ csr: csr({ sans: [{ type: "uri", value: "URN:pss:device:d1" }] }), issuedSans: [uri] }),
      "csr_san_not_allowed",
    ],
    [
      "SAN: otherName",
      requestedSansAreIssued,
      ctx({ csr: csr({ sans: [{ type: "other", tag: 0 }] }), issuedSans: [uid] }),
      "csr_san_not_allowed",
    ],
    ["device id: nothing expected", deviceIdMatchesExpected, ctx({ csr: csr({ deviceId: "a" }) }), "ok"],
    ["device id: equal", deviceIdMatchesExpected, ctx({ csr: csr({ deviceId: "a" }), expectedDeviceId: "a" }), "ok"],
    ["device id: request names none", deviceIdMatchesExpected, ctx({ expectedDeviceId: "a" }), "ok"],
    ["device id: differs", deviceIdMatchesExpected, ctx({ csr: csr({ deviceId: "b" }), expectedDeviceId: "a" }), "csr_device_id_mismatch"],
    [
      "device id: differs in case",
      deviceIdMatchesExpected,
      ctx({ csr: csr({ deviceId: "A" }), expectedDeviceId: "a" }),
      "csr_device_id_mismatch",
    ],
  ])("%s", (_n, validator, req, code) => {
    expect(run(validator, req)).toBe(code);
  });
});

describe("profiles are data", () => {
  it("leaf profiles carry the §3 EKUs, validity and device-id policy", () => {
    expect(
      Object.fromEntries(Object.values(LEAF_PROFILES).map((p) => [p.id, [p.extendedKeyUsage, p.keyUsage, p.deviceId, p.uid]])),
    ).toEqual({
      bootstrap: [[EKU.clientAuth], ["digitalSignature"], "none", "required"],
      "client-tls": [[EKU.clientAuth], ["digitalSignature"], "required", "required"],
      c2pa: [["1.3.6.1.5.5.7.3.36"], ["digitalSignature"], "required", "required"],
      server: [[EKU.serverAuth], ["digitalSignature"], "none", "optional"],
      "ocsp-responder": [["1.3.6.1.5.5.7.3.9"], ["digitalSignature"], "none", "optional"],
    });
    expect(LEAF_PROFILES["ocsp-responder"].ocspNoCheck).toBe(true);
    for (const p of Object.values(LEAF_PROFILES)) expect(p.validators).toContain(requestedSansAreIssued);
  });

  it("CA profiles follow the §2 table", () => {
    expect(Object.fromEntries(Object.values(CA_PROFILES).map((p) => [p.id, [p.validity, p.pathLen, p.selfSigned]]))).toEqual({
      root: [{ years: 20 }, undefined, true],
      "bootstrap-intermediate": [{ years: 2 }, 1, false],
      "bootstrap-issuing": [{ years: 2 }, 0, false],
      "tls-intermediate": [{ years: 10 }, 1, false],
      "customer-tls-issuing": [{ years: 5 }, 0, false],
      "application-ca": [{ years: 5 }, 0, false],
    });
  });

  it("builds subjects and SANs from the context", () => {
    const c = subjectContext({ customerName: "Acme", deviceId: "d1", uid: "u1" });
    expect(LEAF_PROFILES["client-tls"].subject(c)).toEqual({
      organization: "Acme",
      commonName: "PSS Acme Client TLS Certificate",
      serialNumber: "d1",
    });
    expect(LEAF_PROFILES.c2pa.subject(c)).toEqual({ organization: "Acme", commonName: "d1" });
    expect(LEAF_PROFILES.bootstrap.sans(c)).toEqual([uidGeneralName("u1")]);
    expect(LEAF_PROFILES.server.sans({ ...c, uid: undefined, dnsNames: ["A.example"], ipAddresses: ["::1"] })).toEqual([
      { type: "dns", value: "a.example" },
      { type: "ip", value: "0:0:0:0:0:0:0:1" },
    ]);
  });

  it("resolves device ids", () => {
    const req = csr({ subject: [{ oid: "2.5.4.3", name: "CN", value: "d1" }], deviceId: "d1" });
    expect(resolveDeviceId(LEAF_PROFILES.bootstrap, req)).toBeUndefined();
    expect(resolveDeviceId(LEAF_PROFILES["client-tls"], req)).toBe("d1");
    expect(resolveDeviceId(LEAF_PROFILES["client-tls"], req, "given")).toBe("given");
  });

  it("adds validity in calendar years or days", () => {
    expect(addValidity(new Date("2024-02-29T00:00:00Z"), { years: 1 }).toISOString()).toBe("2025-03-01T00:00:00.000Z");
    expect(addValidity(new Date("2026-01-01T00:00:00Z"), { years: 20 }).toISOString()).toBe("2046-01-01T00:00:00.000Z");
    expect(addValidity(new Date("2026-01-01T00:00:00Z"), { days: 365 }).toISOString()).toBe("2027-01-01T00:00:00.000Z");
  });

  it("refuses unknown profile ids", () => {
    expect(() => getLeafProfile("dice")).toThrow(expect.objectContaining({ code: "profile_unknown", status: 404 }));
    expect(() => getCaProfile("nope")).toThrow(expect.objectContaining({ code: "profile_unknown" }));
    expect(() => getLeafProfile("toString")).toThrow(expect.objectContaining({ code: "profile_unknown" }));
  });
});
