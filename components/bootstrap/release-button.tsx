"use client";

import { useActionState } from "react";
import { releaseBootstrapAction } from "@/app/(portal)/bootstrap/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";

const initial: ActionState<{ serial: string }> = { status: "idle" };

/** Lift a bootstrapping certificate's quarantine (customer admins). */
export function ReleaseButton({ serial }: { serial: string }) {
  const [state, action, pending] = useActionState(releaseBootstrapAction, initial);
  return (
    <form action={action} aria-label={`Release ${serial}`} className="flex items-center gap-2">
      <input type="hidden" name="serial" value={serial} />
      <Button type="submit" variant="secondary" disabled={pending} className="px-2 py-1 text-xs">
        {pending ? "Releasing…" : "Release quarantine"}
      </Button>
      <span role="status" aria-live="polite" className="text-xs">
        {state.status === "error" ? state.message : state.status === "ok" ? state.message : ""}
      </span>
    </form>
  );
}
