"use client";

import { useActionState } from "react";
import { decommissionDeviceAction, resetDeviceAction } from "@/app/(portal)/devices/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import { Field, SelectField } from "@/components/ui/field.tsx";
import { FormMessage } from "@/components/ui/form-message.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";

const initial: ActionState<{ certificatesRevoked: number }> = { status: "idle" };

// What each form does: both revoke every certificate the device holds, with the reason picked here.
const KINDS = {
  decommission: {
    action: decommissionDeviceAction,
    label: "Decommission device",
    pending: "Decommissioning…",
    reason: "cessationOfOperation",
    variant: "danger",
    credential: false,
  },
  reset: {
    action: resetDeviceAction,
    label: "Reset device id",
    pending: "Resetting…",
    reason: "superseded",
    variant: "secondary",
    credential: true,
  },
} as const;

/**
 * Decommission a device, or reset its id so that it enrolls again. `done` says why the form is not offered
 * (already decommissioned, already reset); the form stays mounted when the page re-renders after the action,
 * so the outcome message survives.
 */
export function DeviceLifecycleForm({
  kind,
  deviceRef,
  reasons,
  done,
}: {
  kind: keyof typeof KINDS;
  deviceRef: string;
  reasons: { value: string; label: string }[];
  done: string | null;
}) {
  const k = KINDS[kind];
  const [state, action, pending] = useActionState(k.action, initial);
  if (done && state.status !== "ok") return <p className="text-sm">{done}</p>;
  const errors = state.status === "invalid" ? state.fieldErrors : {};
  return (
    <form action={action} className="max-w-sm space-y-3" aria-label={k.label}>
      <input type="hidden" name="deviceRef" value={deviceRef} />
      <SelectField label="Reason" name="reason" defaultValue={k.reason} options={reasons} error={errors.reason?.[0]} />
      {k.credential && (
        <Field
          label="Re-enroll with bootstrapping certificate (serial, optional)"
          name="bootstrapSerial"
          hint="Empty: the one that enrolled the device."
          error={errors.bootstrapSerial?.[0]}
        />
      )}
      <FormMessage
        tone={state.status === "ok" ? "success" : "error"}
        message={state.status === "error" ? state.message : state.status === "ok" ? (state.message ?? null) : null}
      />
      {state.status !== "ok" && (
        <Button type="submit" variant={k.variant} disabled={pending}>
          {pending ? k.pending : k.label}
        </Button>
      )}
    </form>
  );
}
