// The rate-limit and refusal-audit key of a client address.
import { describe, expect, it } from "vitest";
import { clientKey } from "./rate-limit.ts";

describe("clientKey", () => {
  it("IPv4 as is (also when mapped into IPv6); IPv6 by its /64, or by its /48 where asked", () => {
    expect(clientKey("192.0.2.7")).toBe("192.0.2.7");
    expect(clientKey("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(clientKey(null)).toBe("unknown");
    expect(clientKey("2001:db8:aa:bb:1:2:3:4")).toBe("2001:db8:aa:bb::/64");
    expect(clientKey("2001:db8:aa:bb::9")).toBe("2001:db8:aa:bb::/64");
    expect(clientKey("2001:db8::1%eth0")).toBe("2001:db8:0:0::/64");
    // a caller rotating through the /64s of its /48 stays one key where the key must not multiply
    const keys = new Set(Array.from({ length: 50 }, (_, i) => clientKey(`2001:db8:aa:${i.toString(16)}::1`, 48)));
    expect([...keys]).toEqual(["2001:db8:aa::/48"]);
    expect(clientKey("192.0.2.7", 48)).toBe("192.0.2.7");
  });
});
