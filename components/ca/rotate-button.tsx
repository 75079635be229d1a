"use client";

import { useActionState } from "react";
import { type RotateResult, rotateCaAction } from "@/app/(portal)/ca/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";

const initial: ActionState<RotateResult> = { status: "idle" };

export function RotateButton({ caId, subject }: { caId: string; subject: string }) {
  const [state, action, pending] = useActionState(rotateCaAction, initial);
  return (
    <form action={action} className="inline-flex items-center gap-2">
      <input type="hidden" name="caId" value={caId} />
      <Button type="submit" variant="secondary" disabled={pending} aria-label={`Rotate ${subject} now`} className="px-2 py-1 text-xs">
        {pending ? "Rotating…" : "Rotate now"}
      </Button>
      <span aria-live="polite" className="text-xs">
        {state.status === "error" && <span className="text-red-700 dark:text-red-400">{state.message}</span>}
        {state.status === "ok" && <span className="text-green-700 dark:text-green-400">{state.message}</span>}
      </span>
    </form>
  );
}
