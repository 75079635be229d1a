"use client";

import Link from "next/link";
import { useActionState } from "react";
import { type RevokeCaResult, revokeCaAction } from "@/app/(portal)/ca/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import { Field, SelectField } from "@/components/ui/field.tsx";
import { FormMessage } from "@/components/ui/form-message.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";

const initial: ActionState<RevokeCaResult> = { status: "idle" };

export function RevokeCaForm({
  caId,
  customerName,
  reasons,
  revoked,
}: {
  caId: string;
  customerName: string;
  reasons: { value: string; label: string }[];
  revoked: boolean;
}) {
  const [state, action, pending] = useActionState(revokeCaAction, initial);
  if (state.status === "ok") {
    return (
      <div role="status" className="space-y-2">
        <p className="font-semibold">
          Revoked. {state.data.certificatesRevoked} certificates and {state.data.bootstrapRevoked} bootstrapping certificates were revoked.
        </p>
        {state.data.replacementCaId && (
          <p>A new generation of the customer&apos;s TLS issuing CA is active; the customer can provision again.</p>
        )}
        <Link href="/ca" className="text-blue-700 underline dark:text-blue-400">
          Back to the CA hierarchy
        </Link>
      </div>
    );
  }
  if (revoked) return <p>This CA is already revoked.</p>;
  const errors = state.status === "invalid" ? state.fieldErrors : {};
  return (
    <form action={action} className="max-w-lg space-y-4" noValidate>
      <input type="hidden" name="caId" value={caId} />
      <SelectField label="Reason" name="reason" defaultValue="cessationOfOperation" options={reasons} error={errors.reason?.[0]} />
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" name="revokeBootstrap" value="on" defaultChecked className="h-4 w-4" />
        Also revoke the customer&apos;s bootstrapping certificates
      </label>
      <Field
        label={`Type the customer name (${customerName}) to confirm`}
        name="confirmName"
        autoComplete="off"
        required
        error={errors.confirmName?.[0]}
      />
      <FormMessage message={state.status === "error" ? state.message : null} />
      <Button type="submit" variant="danger" disabled={pending}>
        {pending ? "Revoking…" : "Revoke issuing CA and activate a replacement"}
      </Button>
    </form>
  );
}
