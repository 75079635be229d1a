import { describe, expect, it } from "vitest";
import { isPkiError } from "./errors.ts";
import { normalizeSerial, randomSerial, serialFromHex } from "./serial.ts";

describe("randomSerial", () => {
  it("is positive, at most 16 bytes, minimally encoded, and hex without leading zeros", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const s = randomSerial();
      expect(s.der.length).toBeLessThanOrEqual(16);
      expect(s.der[0] & 0x80).toBe(0);
      if (s.der.length > 1) expect(s.der[0] === 0 && (s.der[1] & 0x80) === 0).toBe(false);
      expect(s.hex).toMatch(/^[1-9a-f][0-9a-f]*$/);
      expect(BigInt(`0x${s.hex}`)).toBe(BigInt(`0x${s.der.toString("hex")}`));
      seen.add(s.hex);
    }
    expect(seen.size).toBe(2000);
  });
});

describe("normalizeSerial", () => {
  it.each([
    ["00AB:CD:ef", "abcdef"],
    ["0x00ff", "ff"],
    ["  7F 01 ", "7f01"],
    ["0000", "0"],
    ["1", "1"],
  ])("%s → %s", (input, expected) => {
    expect(normalizeSerial(input)).toBe(expected);
  });

  it.each(["", "xyz", "12-34", "0x", "g0", "a".repeat(81)])("refuses %j", (input) => {
    try {
      normalizeSerial(input);
      expect.unreachable();
    } catch (e) {
      expect(isPkiError(e) && e.code).toBe("serial_invalid");
    }
  });

  it("serialFromHex pads a high bit and refuses more than 20 bytes", () => {
    expect(serialFromHex("0x7f").der.toString("hex")).toBe("7f");
    expect(serialFromHex("80").der.toString("hex")).toBe("0080");
    expect(serialFromHex("00:01").hex).toBe("1");
    expect(serialFromHex("7f".repeat(20)).der.length).toBe(20);
    expect(() => serialFromHex("ff".repeat(20))).toThrow(/20 bytes/);
  });
});
