// The checks that keep values PostgreSQL refuses (a NUL in text, a malformed uuid, a date outside 1970–9999, an
// int8 overflow) out of its queries, and the schemas of URLs, forms and API bodies that use them.
import { describe, expect, it } from "vitest";
import { deviceQuerySchema, revokeBootstrapRequestSchema, tokenRequestSchema } from "./api.ts";
import { auditQuerySchema } from "./audit.ts";
import { revokeBootstrapFormSchema } from "./bootstrap.ts";
import { dateTimeSchema, isUuid } from "./common.ts";
import { utcDateTime } from "./enrollment.ts";
import { cursorSchema, encodeCursor, fleetQuerySchema } from "./fleet.ts";

describe("isUuid", () => {
  it.each([
    ["0f8fad5b-d9cb-469f-a165-70867728950e", true],
    ["0F8FAD5B-D9CB-469F-A165-70867728950E", true],
    ["00000000-0000-0000-0000-000000000000", true],
    ["0".repeat(36), false],
    ["-".repeat(36), false],
    ["0f8fad5bd-9cb-469f-a165-70867728950e", false],
    ["0f8fad5b-d9cb-469f-a165-70867728950g", false],
    ["0f8fad5b-d9cb-469f-a165-70867728950e\n", false],
    ["{0f8fad5b-d9cb-469f-a165-70867728950e}", false],
    ["0f8fad5bd9cb469fa16570867728950e", false],
    ["", false],
  ])("%j → %s", (v, ok) => {
    expect(isUuid(v)).toBe(ok);
  });
});

describe("dateTimeSchema: RFC 3339, 1970 to 9999 (UTC) once the offset is applied", () => {
  it.each([
    ["1970-01-01T00:00:00Z", true],
    ["1970-01-01T01:00:00+01:00", true],
    ["2030-06-01T12:00:00.123456Z", true],
    ["9999-12-31T23:59:59.999Z", true],
    ["9999-12-31T18:59:59-05:00", true],
    ["0000-01-01T00:00:00Z", false],
    ["0001-01-01T00:00:00Z", false],
    ["1969-12-31T23:59:59Z", false],
    ["1970-01-01T00:30:00+01:00", false],
    ["9999-12-31T23:00:00-05:00", false],
    ["-000001-01-01T00:00:00Z", false],
    ["+010000-01-01T00:00:00Z", false],
    ["2030-02-30T00:00:00Z", false],
    ["2030-01-01", false],
  ])("%j → %s", (v, ok) => {
    expect(dateTimeSchema.safeParse(v).success).toBe(ok);
  });

  it("holds for the API's bodies: a leaked key's revocation moment", () => {
    expect(revokeBootstrapRequestSchema.safeParse({ alsoRevokeDevicesEnrolledAfter: "0000-01-01T00:00:00Z" }).success).toBe(false);
    expect(revokeBootstrapRequestSchema.parse({ alsoRevokeDevicesEnrolledAfter: "2020-01-01T00:00:00Z" })).toMatchObject({
      alsoRevokeDevicesEnrolledAfter: "2020-01-01T00:00:00Z",
    });
  });
});

describe("the portal's date-time fields (UTC datetime-local)", () => {
  it.each([
    ["2030-01-01T00:00", new Date("2030-01-01T00:00:00Z")],
    ["1970-01-01T00:00", new Date(0)],
    ["", null],
  ])("%j → %s", (v, date) => {
    expect(utcDateTime.parse(v)).toEqual(date);
  });

  it.each(["0000-01-01T00:00", "1969-12-31T23:59", "9999-12-31T23:00-05:00", "+010000-01-01T00:00", "-000001-01-01T00:00"])(
    "%j is refused",
    (v) => {
      expect(utcDateTime.safeParse(v).success).toBe(false);
    },
  );

  it("a bootstrapping certificate's revocation moment from the form is refused before 1970, with the field named", () => {
    const r = revokeBootstrapFormSchema.safeParse({
      serial: "0a1b",
      reason: "keyCompromise",
      alsoRevokeDevices: "on",
      enrolledAfter: "0000-01-01T00:00",
    });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].path).toEqual(["enrolledAfter"]);
  });
});

describe("a NUL reaches no text column", () => {
  it("the token request refuses it in client_id and client_secret", () => {
    for (const field of ["client_id", "client_secret"])
      expect(tokenRequestSchema.safeParse({ grant_type: "client_credentials", [field]: "a\u0000b" }).success, field).toBe(false);
    expect(tokenRequestSchema.safeParse({ grant_type: "client_credentials", client_id: "pss_x", client_secret: "s" }).success).toBe(true);
  });

  it("the API's device query refuses it in q and uid", () => {
    expect(deviceQuerySchema.safeParse({ q: "\u0000" }).success).toBe(false);
    expect(deviceQuerySchema.safeParse({ uid: "u\u0000" }).success).toBe(false);
    expect(deviceQuerySchema.parse({ q: "dev-1", uid: "u-1" })).toMatchObject({ q: "dev-1", uid: "u-1" });
  });

  it("the fleet page (and its CSV export) drops such a search, as it drops any bad value of its URL", () => {
    expect(fleetQuerySchema.parse({ q: "\u0000" }).q).toBeUndefined();
    expect(fleetQuerySchema.parse({ q: "dev\u0000" }).q).toBeUndefined();
    expect(fleetQuerySchema.parse({ q: " dev-1 " }).q).toBe("dev-1");
  });
});

describe("the fleet cursor", () => {
  const id = "0f8fad5b-d9cb-469f-a165-70867728950e";
  const raw = (v: unknown) => Buffer.from(JSON.stringify({ v, id })).toString("base64url");

  it("round-trips a cursor the server made", () => {
    const at = new Date("2030-01-01T00:00:00Z");
    expect(fleetQuerySchema.parse({ cursor: encodeCursor(at, id) }).cursor).toEqual({ v: at.toISOString(), id });
    expect(fleetQuerySchema.parse({ cursor: encodeCursor(null, id) }).cursor).toEqual({ v: null, id });
  });

  it.each(["0000-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "9999-12-31T23:00:00-05:00"])(
    "with the time %j is a bad cursor: the page starts over",
    (v) => {
      expect(cursorSchema.safeParse(raw(v)).success).toBe(false);
      expect(fleetQuerySchema.parse({ cursor: raw(v) }).cursor).toBeUndefined();
    },
  );
});

describe("the audit page's cursor (an int8 event id)", () => {
  it.each([
    ["1", "1"],
    ["9223372036854775807", "9223372036854775807"],
    ["9223372036854775808", undefined],
    ["9999999999999999999", undefined],
    ["99999999999999999999", undefined],
    ["-1", undefined],
    ["abc", undefined],
  ])("before=%s → %s", (before, kept) => {
    expect(auditQuerySchema.parse({ before }).before).toBe(kept);
  });
});
