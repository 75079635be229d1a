import "server-only";
import { unstable_rethrow } from "next/navigation";
import type { ZodError } from "zod";
import { GENERIC_ERROR_MESSAGE, isAppError, isDataException } from "../errors.ts";
import { log } from "../log.ts";

/** What a form's server action hands back to `useActionState` (STYLE habit 7: two error channels). */
export type ActionState<T = undefined> =
  | { status: "idle" }
  | { status: "invalid"; fieldErrors: Record<string, string[] | undefined>; values?: Record<string, string> }
  | { status: "error"; message: string }
  | { status: "ok"; data: T; message?: string };

export const IDLE: ActionState<never> = { status: "idle" };

export function invalid(error: ZodError, values?: Record<string, string>): ActionState<never> {
  const fieldErrors: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const key = String(issue.path[0] ?? "form");
    fieldErrors[key] = [...(fieldErrors[key] ?? []), issue.message];
  }
  return { status: "invalid", fieldErrors, ...(values ? { values } : {}) };
}

/**
 * The error channel of every portal action: a typed AppError reaches the user with its message,
 * Next.js control flow (redirect, forbidden, notFound) is rethrown, anything else is logged and
 * the user sees the generic message — never Prisma or stack text.
 */
export function failed(e: unknown, action: string): ActionState<never> {
  unstable_rethrow(e);
  if (isAppError(e)) return { status: "error", message: e.message };
  // a value the database refused (a NUL character, a date out of its range) that validation let through: the
  // form's fault, said as such, and logged so the missing check gets added
  if (isDataException(e)) {
    log.warn({ err: e, action }, "portal action refused by the database (data exception)");
    return { status: "error", message: "A value in the form cannot be stored (a control character, or a date out of range?)." };
  }
  log.error({ err: e, action }, "portal action failed");
  return { status: "error", message: GENERIC_ERROR_MESSAGE };
}

/** FormData → plain strings (file inputs and Next's $ACTION_ fields left out). */
export function formValues(form: FormData): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of form.entries()) if (typeof v === "string" && !k.startsWith("$ACTION")) out[k] = v;
  return out;
}
