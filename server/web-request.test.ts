import { describe, expect, it } from "vitest";
import { keepOcspSlashes } from "./web-paths.ts";

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
