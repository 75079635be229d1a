"use client";

import { useActionState } from "react";
import { Button } from "@/components/ui/button.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";

type RowAction<T> = (prev: ActionState<T>, form: FormData) => Promise<ActionState<T>>;

/**
 * One button posting one hidden field to a server action — the per-row actions of the portal's tables
 * (disable, release, rotate) — with the action's answer beside it: errors as an alert, successes as a status.
 */
export function RowActionButton<T>({
  action,
  name,
  value,
  label,
  pendingLabel,
  ariaLabel,
  variant = "secondary",
  invalidMessage = "Invalid request.",
}: {
  action: RowAction<T>;
  name: string;
  value: string;
  label: string;
  pendingLabel: string;
  /** the button's accessible name when the label alone is ambiguous in a table */
  ariaLabel?: string;
  variant?: "secondary" | "danger";
  invalidMessage?: string;
}) {
  const [state, run, pending] = useActionState(action, { status: "idle" });
  const error = state.status === "error" ? state.message : state.status === "invalid" ? invalidMessage : "";
  return (
    <form action={run} className="inline-flex items-center gap-2">
      <input type="hidden" name={name} value={value} />
      <Button type="submit" variant={variant} disabled={pending} aria-label={ariaLabel} className="px-2 py-1 text-xs">
        {pending ? pendingLabel : label}
      </Button>
      <span role="alert" aria-live="polite" className="text-xs text-red-700 dark:text-red-400">
        {error}
      </span>
      <span role="status" aria-live="polite" className="text-xs text-green-700 dark:text-green-400">
        {state.status === "ok" ? (state.message ?? "") : ""}
      </span>
    </form>
  );
}
