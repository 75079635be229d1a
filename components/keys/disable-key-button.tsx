"use client";

import { useActionState } from "react";
import { disableSigningKeyAction } from "@/app/(portal)/keys/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";

const initial: ActionState<{ kid: string }> = { status: "idle" };

/** Disable one key (final): a one-button form per row. */
export function DisableKeyButton({ kid }: { kid: string }) {
  const [state, action, pending] = useActionState(disableSigningKeyAction, initial);
  return (
    <form action={action} aria-label={`Disable key ${kid}`} className="flex items-center gap-2">
      <input type="hidden" name="kid" value={kid} />
      <Button type="submit" variant="danger" disabled={pending} className="px-2 py-1 text-xs">
        {pending ? "Disabling…" : "Disable"}
      </Button>
      <span role="alert" aria-live="polite" className="text-xs text-red-700 dark:text-red-400">
        {state.status === "error" ? state.message : state.status === "invalid" ? "Not a key id." : ""}
      </span>
    </form>
  );
}
