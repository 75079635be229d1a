import { AppError } from "../errors.ts";

/**
 * A refusal from the signing core with a stable machine-readable code (e.g. "csr_invalid_signature")
 * and a message that is safe to show to the caller. `status` is the HTTP status a front end answers with.
 */
export class PkiError extends AppError {
  constructor(code: string, message: string, status = 400) {
    super(code, message, status);
    this.name = "PkiError";
  }
}

export function isPkiError(e: unknown): e is PkiError {
  return e instanceof PkiError;
}
