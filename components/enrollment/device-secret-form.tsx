"use client";

import { useActionState } from "react";
import { addDeviceSecretAction, type NewDeviceSecret } from "@/app/(portal)/enrollment/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import { Field } from "@/components/ui/field.tsx";
import { FormMessage } from "@/components/ui/form-message.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";

const initial: ActionState<NewDeviceSecret> = { status: "idle" };

/** Register a one-time enrollment secret for a device id; the secret is shown here once and stored only as a hash. */
export function DeviceSecretForm() {
  const [state, action, pending] = useActionState(addDeviceSecretAction, initial);
  const errors = state.status === "invalid" ? state.fieldErrors : {};
  const values = state.status === "invalid" ? (state.values ?? {}) : {};
  return (
    <form action={action} className="max-w-lg space-y-4" noValidate aria-label="Add a one-time device secret">
      <Field label="Device id" name="deviceId" autoComplete="off" defaultValue={values.deviceId} error={errors.deviceId?.[0]} />
      <Field
        label="Secret (optional)"
        name="secret"
        type="password"
        autoComplete="off"
        error={errors.secret?.[0]}
        hint="Leave empty to generate one. Registering again replaces the device's secret."
      />
      <FormMessage message={state.status === "error" ? state.message : null} />
      {state.status === "ok" && (
        <div
          role="status"
          className="space-y-2 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-200"
        >
          <p className="font-medium">{state.message}</p>
          <p>Copy the secret now: it is shown only once. The device sends it as its CSR challengePassword.</p>
          <code className="block break-all" data-testid="new-device-secret">
            {state.data.secret}
          </code>
        </div>
      )}
      <Button type="submit" disabled={pending}>
        {pending ? "Registering…" : "Register secret"}
      </Button>
    </form>
  );
}
