import { describe, expect, it } from "vitest";
import { isPkiError } from "./errors.ts";
import {
  CUSTOMER_CN,
  canonicalIp,
  checkCustomerName,
  deviceUri,
  encodeGeneralName,
  encodeName,
  formatName,
  generalNameKey,
  subjectAttributes,
  uidGeneralName,
} from "./names.ts";

const hex = (b: Buffer) => b.toString("hex");

describe("encodeName", () => {
  it("writes O, CN, serialNumber in that order, one attribute per RDN, with the §3 string types", () => {
    const der = encodeName(subjectAttributes({ organization: "Acme", commonName: "X", serialNumber: "d-1" }));
    expect(hex(der)).toBe("3029" + "310d300b060355040a0c0441636d65" + "310a300806035504030c0158" + "310c300a06035504051303642d31");
  });

  it("refuses a serialNumber that is not a PrintableString", () => {
    expect(() => encodeName(subjectAttributes({ commonName: "X", serialNumber: "d_1" }))).toThrow(RangeError);
  });
});

describe("general names", () => {
  it("UID directoryName: [4] { Name { RDN { UID UTF8String } } }", () => {
    expect(hex(encodeGeneralName(uidGeneralName("u1")))).toBe("a416301431123010060a0992268993f22c6401010c027531");
  });

  it.each<[Parameters<typeof encodeGeneralName>[0], string]>([
    [{ type: "uri", value: deviceUri("d-1") }, `8612${Buffer.from("urn:pss:device:d-1").toString("hex")}`],
    [{ type: "dns", value: "a.b" }, "8203612e62"],
    [{ type: "ip", value: "10.0.0.1" }, "87040a000001"],
    [{ type: "ip", value: "2001:db8::1" }, "871020010db8000000000000000000000001"],
    [{ type: "email", value: "a@b" }, "8103614062"],
  ])("%j", (g, expected) => {
    expect(hex(encodeGeneralName(g))).toBe(expected);
  });

  it("compares names by meaning", () => {
    expect(generalNameKey({ type: "dns", value: "A.Example" })).toBe(generalNameKey({ type: "dns", value: "a.example" }));
    expect(generalNameKey(uidGeneralName("x"))).toBe("DirName:UID=x");
    expect(canonicalIp("2001:DB8:0:0::1")).toBe(canonicalIp("2001:db8::1"));
    expect(() => canonicalIp("1.2.3")).toThrow();
    expect(() => canonicalIp("1::2::3")).toThrow();
  });

  it("formats names RFC 4514-style with escapes", () => {
    expect(
      formatName([
        { oid: "2.5.4.10", value: "A, B+C" },
        { oid: "1.2.3", value: " x" },
      ]),
    ).toBe("O=A\\, B\\+C, 1.2.3=\\ x");
  });
});

describe("checkCustomerName", () => {
  const codeOf = (name: string, prefix?: string) => {
    try {
      checkCustomerName(name, prefix);
      return "ok";
    } catch (e) {
      return isPkiError(e) ? e.code : "threw";
    }
  };

  // "PSS <name> Bootstrapping Certificate" and "PSS <name> C2PA Application CA G9999" are 30 + name long.
  it.each([
    ["Acme", undefined, "ok"],
    ["Zürich Ünïcødé AG", undefined, "ok"],
    ["a".repeat(34), undefined, "ok"],
    ["a".repeat(35), undefined, "customer_name_too_long"],
    ["東".repeat(34), undefined, "ok"],
    ["😀".repeat(34), undefined, "ok"],
    ["a".repeat(32), "PSS-1", "ok"],
    ["a".repeat(33), "PSS-1", "customer_name_too_long"],
    ["a".repeat(20), "A-VERY-LONG-PREFIX-FOR-SUBJECTS", "customer_name_too_long"],
    ["", undefined, "customer_name_invalid"],
    [" Acme", undefined, "customer_name_invalid"],
    ["Ac\u0000me", undefined, "customer_name_invalid"],
    ["Ac\nme", undefined, "customer_name_invalid"],
    ["bad\ud800", undefined, "customer_name_invalid"],
  ])("%j with prefix %j → %s", (name, prefix, code) => {
    expect(codeOf(name, prefix)).toBe(code);
  });

  it("covers every customer CN", () => {
    const longest = "a".repeat(34);
    const cns = [
      CUSTOMER_CN.bootstrap(longest),
      CUSTOMER_CN.clientTls(longest),
      CUSTOMER_CN.tlsIssuingCa(longest, 9999),
      CUSTOMER_CN.applicationCa(longest, "c2pa", 9999),
      CUSTOMER_CN.ocspResponder(longest),
    ];
    for (const cn of cns) expect([...cn].length).toBeLessThanOrEqual(64);
    expect(CUSTOMER_CN.bootstrap("Acme")).toBe("PSS Acme Bootstrapping Certificate");
    expect(CUSTOMER_CN.clientTls("Acme", "XYZ")).toBe("XYZ Acme Client TLS Certificate");
  });
});
