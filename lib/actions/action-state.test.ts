// The portal actions' error channel: an AppError's message, a database data exception as the form's fault, and
// anything else as the generic message — never driver or stack text.
import { describe, expect, it, vi } from "vitest";
import { AppError, GENERIC_ERROR_MESSAGE } from "../errors.ts";
import { failed } from "./action-state.ts";

vi.mock("server-only", () => ({}));

/** The shape Prisma 7 gives a PostgreSQL error through the driver adapter (lib/errors.ts isDataException). */
const dataException = (sqlState: string) =>
  Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), {
    code: "P2010",
    meta: { driverAdapterError: { cause: { originalCode: sqlState } } },
  });

describe("failed", () => {
  it("answers an AppError with its message, a data exception as the form's fault, anything else generically", () => {
    expect(failed(new AppError("customer_exists", "A customer with this name exists.", 409), "t")).toEqual({
      status: "error",
      message: "A customer with this name exists.",
    });
    const nul = failed(dataException("22021"), "t");
    expect(nul).toEqual({ status: "error", message: expect.stringMatching(/cannot be stored/) });
    expect(JSON.stringify(nul)).not.toContain("UTF8");
    expect(failed(dataException("23505"), "t")).toEqual({ status: "error", message: GENERIC_ERROR_MESSAGE });
    expect(failed(new Error("socket hang up"), "t")).toEqual({ status: "error", message: GENERIC_ERROR_MESSAGE });
  });
});
