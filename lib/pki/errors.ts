/**
 * A refusal with a stable machine-readable code (e.g. "csr_invalid_signature") and a message that is
 * safe to show to the caller. `status` is the HTTP status a front end should answer with.
 */
export class PkiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = "PkiError";
  }
}

export function isPkiError(e: unknown): e is PkiError {
  return e instanceof PkiError;
}
