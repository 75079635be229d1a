// Two error channels (STYLE.md habit 7): a known AppError with a code and a message safe for users,
// or anything else, which is logged and shown as a generic message.
export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = "AppError";
  }
}

/** Prisma's unique-constraint violation. */
export function isUniqueViolation(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: string }).code === "P2002";
}

/**
 * A PostgreSQL data exception (SQLSTATE class 22: a NUL in text 22021, a malformed uuid 22P02, a date out of range
 * 22008, a number out of range 22003, …): a value from outside that validation let through. Prisma 7 with the
 * driver adapter reports it under whichever Prisma code fits the query (P2007, P2010, P2020, P2039, …), with the
 * database's SQLSTATE in meta.driverAdapterError.cause.originalCode.
 */
export function isDataException(e: unknown): boolean {
  const cause = (e as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown; code?: unknown } } } } | null)?.meta
    ?.driverAdapterError?.cause;
  const sqlState = cause?.originalCode ?? cause?.code;
  return typeof sqlState === "string" && /^22[0-9A-Z]{3}$/.test(sqlState);
}

export const GENERIC_ERROR_MESSAGE = "Something went wrong. The error was logged; please try again.";

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
