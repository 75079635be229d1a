"use client";

import { useActionState } from "react";
import { revokeCertificateAction } from "@/app/(portal)/certificates/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import { SelectField } from "@/components/ui/field.tsx";
import { FormMessage } from "@/components/ui/form-message.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";

const initial: ActionState<{ serial: string }> = { status: "idle" };

export function RevokeCertificateForm({
  serial,
  reasons,
  revoked,
}: {
  serial: string;
  reasons: { value: string; label: string }[];
  revoked: boolean;
}) {
  const [state, action, pending] = useActionState(revokeCertificateAction, initial);
  // stays mounted when the page re-renders after the action, so the outcome message survives
  if (revoked && state.status !== "ok") return <p className="text-sm">This certificate is revoked.</p>;
  const errors = state.status === "invalid" ? state.fieldErrors : {};
  return (
    <form action={action} className="max-w-sm space-y-3" aria-label="Revoke certificate">
      <input type="hidden" name="serial" value={serial} />
      <SelectField
        label="Revocation reason"
        name="reason"
        defaultValue="unspecified"
        options={reasons}
        error={errors.reason?.[0] ?? errors.serial?.[0]}
      />
      <FormMessage
        tone={state.status === "ok" ? "success" : "error"}
        message={state.status === "error" ? state.message : state.status === "ok" ? (state.message ?? null) : null}
      />
      {state.status !== "ok" && (
        <Button type="submit" variant="danger" disabled={pending}>
          {pending ? "Revoking…" : "Revoke certificate"}
        </Button>
      )}
    </form>
  );
}
