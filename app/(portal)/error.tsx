"use client";

import { GENERIC_ERROR_MESSAGE } from "@/lib/errors.ts";

/** Anything a portal page did not expect: the generic message and the digest to quote, never the error text. */
export default function PortalError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div role="alert" className="max-w-lg space-y-3">
      <h1 className="text-2xl font-semibold">Something went wrong</h1>
      <p>{GENERIC_ERROR_MESSAGE}</p>
      {error.digest && <p className="text-sm text-slate-600 dark:text-slate-400">Reference: {error.digest}</p>}
      <button type="button" onClick={reset} className="rounded-md border border-slate-300 px-4 py-2 text-sm dark:border-slate-700">
        Try again
      </button>
    </div>
  );
}
