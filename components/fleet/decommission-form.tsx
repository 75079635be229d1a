"use client";

import { useActionState } from "react";
import { decommissionDeviceAction } from "@/app/(portal)/devices/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import { SelectField } from "@/components/ui/field.tsx";
import { FormMessage } from "@/components/ui/form-message.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";

const initial: ActionState<{ certificatesRevoked: number }> = { status: "idle" };

export function DecommissionForm({
  deviceRef,
  reasons,
  decommissioned,
}: {
  deviceRef: string;
  reasons: { value: string; label: string }[];
  decommissioned: boolean;
}) {
  const [state, action, pending] = useActionState(decommissionDeviceAction, initial);
  // stays mounted when the page re-renders after the action, so the outcome message survives
  if (decommissioned && state.status !== "ok") return <p className="text-sm">This device is decommissioned.</p>;
  const errors = state.status === "invalid" ? state.fieldErrors : {};
  return (
    <form action={action} className="max-w-sm space-y-3" aria-label="Decommission device">
      <input type="hidden" name="deviceRef" value={deviceRef} />
      <SelectField label="Reason" name="reason" defaultValue="cessationOfOperation" options={reasons} error={errors.reason?.[0]} />
      <FormMessage
        tone={state.status === "ok" ? "success" : "error"}
        message={state.status === "error" ? state.message : state.status === "ok" ? (state.message ?? null) : null}
      />
      {state.status !== "ok" && (
        <Button type="submit" variant="danger" disabled={pending}>
          {pending ? "Decommissioning…" : "Decommission device"}
        </Button>
      )}
    </form>
  );
}
