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

export const GENERIC_ERROR_MESSAGE = "Something went wrong. The error was logged; please try again.";

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
