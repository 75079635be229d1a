import { describe, expect, it } from "vitest";
import * as der from "./der.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("der encoders (fixed vectors)", () => {
  it.each([
    ["integer 0", der.integer(Buffer.from([0])), "020100"],
    ["integer strips leading zeros", der.integer(Buffer.from([0, 0, 0x12])), "020112"],
    ["integer pads a high bit", der.integer(Buffer.from([0x80])), "02020080"],
    ["integer empty is zero", der.integer(Buffer.alloc(0)), "020100"],
    ["smallInteger 2", der.smallInteger(2), "020102"],
    ["smallInteger 128", der.smallInteger(128), "02020080"],
    ["smallInteger 65537", der.smallInteger(65537), "0203010001"],
    ["oid ecPublicKey", der.oid("1.2.840.10045.2.1"), "06072a8648ce3d0201"],
    ["oid UID", der.oid("0.9.2342.19200300.100.1.1"), "060a0992268993f22c640101"],
    ["oid documentSigning", der.oid("1.3.6.1.5.5.7.3.36"), "06082b06010505070324"],
    ["oid 2.999.3", der.oid("2.999.3"), "0603883703"],
    ["utf8", der.utf8String("Zürich"), "0c075ac3bc72696368"],
    ["printable", der.printableString("ab:1.-"), "130661623a312e2d"],
    ["ia5", der.ia5String("a@b"), "1603614062"],
    ["boolean true", der.boolean(true), "0101ff"],
    ["boolean false", der.boolean(false), "010100"],
    ["null", der.nullValue(), "0500"],
    ["octet string", der.octetString(Buffer.from([1, 2])), "04020102"],
    ["bit string", der.bitString(Buffer.from([0xff]), 1), "030201ff"],
    ["keyUsage digitalSignature", der.namedBits([0]), "03020780"],
    ["keyUsage keyCertSign+cRLSign", der.namedBits([5, 6]), "03020106"],
    ["keyUsage decipherOnly (bit 8)", der.namedBits([0, 8]), "0303078080"],
    ["empty sequence", der.sequence(), "3000"],
    ["explicit [3]", der.explicit(3, der.nullValue()), "a3020500"],
    ["implicit [0] primitive", der.implicit(0, Buffer.from([0xab])), "8001ab"],
    ["implicit [0] constructed", der.implicit(0, der.nullValue(), true), "a0020500"],
    ["UTCTime", der.utcTime(new Date("2026-11-22T05:49:28.999Z")), "170d3236313132323035343932385a"],
    ["x509Time 2049 is UTCTime", der.x509Time(new Date("2049-12-31T23:59:59Z")), "170d3439313233313233353935395a"],
    ["x509Time 2050 is GeneralizedTime", der.x509Time(new Date("2050-01-01T00:00:00Z")), "180f32303530303130313030303030305a"],
    ["x509Time 1950 is UTCTime", der.x509Time(new Date("1950-01-01T00:00:00Z")), "170d3530303130313030303030305a"],
    ["x509Time 1949 is GeneralizedTime", der.x509Time(new Date("1949-12-31T00:00:00Z")), "180f31393439313233313030303030305a"],
  ])("%s", (_name, actual, expected) => {
    expect(hex(actual)).toBe(expected);
  });

  it("encodes long lengths minimally", () => {
    expect(hex(der.octetString(Buffer.alloc(127)).subarray(0, 2))).toBe("047f");
    expect(hex(der.octetString(Buffer.alloc(128)).subarray(0, 3))).toBe("048180");
    expect(hex(der.octetString(Buffer.alloc(256)).subarray(0, 4))).toBe("04820100");
    expect(hex(der.octetString(Buffer.alloc(70000)).subarray(0, 5))).toBe("0483011170");
  });

  it("sorts SET OF elements", () => {
    expect(hex(der.set(der.smallInteger(2), der.smallInteger(1)))).toBe("3106020101020102");
  });

  it("refuses what it cannot encode", () => {
    expect(() => der.printableString("dev_1")).toThrow(RangeError);
    expect(() => der.ia5String("é")).toThrow(RangeError);
    expect(() => der.oid("1.40.1")).toThrow(RangeError);
    expect(() => der.oid("1.2.03")).toThrow(RangeError);
    expect(() => der.utcTime(new Date("2050-01-01T00:00:00Z"))).toThrow(RangeError);
    expect(() => der.smallInteger(-1)).toThrow(RangeError);
  });
});

describe("der reader", () => {
  it("round-trips OIDs", () => {
    for (const o of ["1.2.840.10045.2.1", "0.9.2342.19200300.100.1.1", "2.999.3", "1.3.6.1.5.5.7.48.1.5"]) {
      expect(der.decodeOid(der.oid(o).subarray(2))).toBe(o);
    }
  });

  it("walks nested structures", () => {
    const buf = der.sequence(der.smallInteger(5), der.sequence(der.utf8String("x")));
    const outer = der.expectTlv(buf, 0, der.TAG.SEQUENCE);
    const [a, b] = der.children(buf, outer);
    expect(der.contentOf(buf, a)[0]).toBe(5);
    expect(der.decodeString(buf, der.children(buf, b)[0])).toBe("x");
  });

  it.each([
    ["truncated", "3005020101"],
    ["indefinite length", "3080020101 0000"],
    ["non-minimal long length", "30810302010 1"],
    ["length with leading zero", "3082000302010 1"],
  ])("refuses %s", (_n, h) => {
    expect(() => der.readTlv(Buffer.from(h.replace(/ /g, ""), "hex"), 0)).toThrow(der.DerError);
  });

  it("decodes times and strings", () => {
    const t = der.utcTime(new Date("2030-05-06T07:08:09Z"));
    expect(der.decodeTime(t, der.readTlv(t, 0)).toISOString()).toBe("2030-05-06T07:08:09.000Z");
    const g = der.generalizedTime(new Date("2061-05-06T07:08:09Z"));
    expect(der.decodeTime(g, der.readTlv(g, 0)).toISOString()).toBe("2061-05-06T07:08:09.000Z");
    const bmp = Buffer.from("1e0400e90041", "hex");
    expect(der.decodeString(bmp, der.readTlv(bmp, 0))).toBe("éA");
    const badPrintable = Buffer.from("13015f", "hex");
    expect(() => der.decodeString(badPrintable, der.readTlv(badPrintable, 0))).toThrow(der.DerError);
    const badUtf8 = Buffer.from("0c01ff", "hex");
    expect(() => der.decodeString(badUtf8, der.readTlv(badUtf8, 0))).toThrow();
  });

  it("armours PEM in 64 columns", () => {
    const pem = der.toPem("TEST", Buffer.alloc(100, 1));
    expect(pem.split("\n")[1]).toHaveLength(64);
    expect(pem.startsWith("-----BEGIN TEST-----\n")).toBe(true);
  });
});

describe("decodeOid edge cases", () => {
  it.each([
    "2.999.3",
    "1.2.840.113549.1.1.11",
    "2.25.329800735698586629295641978511506172918",
    "0.0",
    "1.39",
    "2.100",
    "1.2.9007199254740993",
  ])("round-trips %s", (o) => {
    expect(der.decodeOid(der.oid(o).subarray(2))).toBe(o);
  });

  it.each([
    ["2.999.3 (first arc past 2.39)", "883703", "2.999.3"],
    ["2.100", "8134", "2.100"],
    ["1.39", "4f", "1.39"],
    ["0.9.2342.19200300.100.1.1", "0992268993f22c640101", "0.9.2342.19200300.100.1.1"],
    ["multi-byte arcs", "2a864886f70d01010b", "1.2.840.113549.1.1.11"],
  ])("decodes %s from fixed bytes", (_name, content, dotted) => {
    expect(der.decodeOid(Buffer.from(content, "hex"))).toBe(dotted);
  });

  it.each([2 ** 46 - 1, 2 ** 46, 2 ** 46 + 1, 2 ** 53 - 1])("reads arc %d exactly, either side of the plain-number bound", (n) => {
    expect(der.decodeOid(der.oid(`1.2.${n}.7`).subarray(2))).toBe(`1.2.${n}.7`);
    expect(der.decodeOid(der.oid(`2.${n}`).subarray(2))).toBe(`2.${n}`);
  });

  it("reads arcs past 2^53 (a UUID OID) as their exact value", () => {
    for (const o of ["1.2.9007199254740992", "2.25.340282366920938463463374607431768211455", "2.18446744073709551616.1"]) {
      expect(der.decodeOid(der.oid(o).subarray(2))).toBe(o);
    }
  });

  it("refuses non-minimal and truncated arcs", () => {
    expect(() => der.decodeOid(Buffer.from("2a8001", "hex"))).toThrow(der.DerError);
    expect(() => der.decodeOid(Buffer.from("80012a", "hex"))).toThrow(der.DerError);
    expect(() => der.decodeOid(Buffer.from("2a86", "hex"))).toThrow(der.DerError);
    expect(() => der.decodeOid(Buffer.alloc(0))).toThrow(der.DerError);
  });

  it(`reads OIDs up to ${der.MAX_OID_BYTES} octets and refuses longer ones before decoding`, () => {
    const arcs = (n: number) => Buffer.concat([Buffer.from([0x2a]), Buffer.alloc(n - 1, 0x01)]); // 1.2.1.1…
    expect(der.decodeOid(arcs(der.MAX_OID_BYTES))).toBe(`1.2${".1".repeat(der.MAX_OID_BYTES - 1)}`);
    expect(() => der.decodeOid(arcs(der.MAX_OID_BYTES + 1))).toThrow(der.DerError);
    // one arc of ~60 KB (what a 64 KiB OCSP request can carry): refused by its length, not decoded
    const huge = Buffer.concat([Buffer.from([0x2a]), Buffer.alloc(60_000, 0xff), Buffer.from([0x7f])]);
    expect(() => der.decodeOid(huge)).toThrow(der.DerError);
    expect(() => der.decodeOid(huge)).toThrow(/longer than 128 octets/);
  });
});
