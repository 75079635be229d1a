"use client";

import { useActionState } from "react";
import { disableGroupAction } from "@/app/(portal)/enrollment/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";

const initial: ActionState<{ id: string }> = { status: "idle" };

/** Disable one enrollment group (final): its devices are refused from now on. */
export function DisableGroupButton({ id, name }: { id: string; name: string }) {
  const [state, action, pending] = useActionState(disableGroupAction, initial);
  return (
    <form action={action} aria-label={`Disable group ${name}`} className="flex items-center gap-2">
      <input type="hidden" name="groupId" value={id} />
      <Button type="submit" variant="danger" disabled={pending} className="px-2 py-1 text-xs">
        {pending ? "Disabling…" : "Disable"}
      </Button>
      <span role="alert" aria-live="polite" className="text-xs text-red-700 dark:text-red-400">
        {state.status === "error" ? state.message : state.status === "invalid" ? "Not an enrollment group." : ""}
      </span>
    </form>
  );
}
