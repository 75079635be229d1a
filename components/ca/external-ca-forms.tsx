"use client";

import { useActionState, useState } from "react";
import { importExternalCaAction, requestExternalCaAction } from "@/app/(portal)/ca/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import { TextArea } from "@/components/ui/field.tsx";
import { FormMessage } from "@/components/ui/form-message.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";

const initial: ActionState<{ subject: string }> = { status: "idle" };

/** Staff: a new key and CSR for the customer's C2PA CA, to be signed by the customer's own CA. */
export function RequestExternalCaForm({ customerId }: { customerId: string }) {
  const [state, action, pending] = useActionState(requestExternalCaAction, initial);
  return (
    <form action={action} className="space-y-2">
      <input type="hidden" name="customerId" value={customerId} />
      <input type="hidden" name="application" value="c2pa" />
      <FormMessage message={state.status === "error" ? state.message : null} />
      <Button type="submit" disabled={pending}>
        {pending ? "Making a key…" : "Request a CSR for a C2PA CA under the customer's root"}
      </Button>
    </form>
  );
}

/** Staff: paste what the customer's CA signed, and their chain up to their root. */
export function ImportExternalCaForm({ pendingId }: { pendingId: string }) {
  // what was pasted stays after a refusal (React resets a form after its action, to these defaults)
  const [pasted, setPasted] = useState({ certPem: "", chainPem: "" });
  const [state, action, pending] = useActionState((prev: ActionState<{ subject: string }>, form: FormData) => {
    setPasted({ certPem: String(form.get("certPem") ?? ""), chainPem: String(form.get("chainPem") ?? "") });
    return importExternalCaAction(prev, form);
  }, initial);
  if (state.status === "ok") return <p role="status">{state.message}</p>;
  const errors = state.status === "invalid" ? state.fieldErrors : {};
  return (
    <form action={action} className="max-w-2xl space-y-3" noValidate>
      <input type="hidden" name="pendingId" value={pendingId} />
      <TextArea
        label="CA certificate the customer's CA signed (PEM)"
        name="certPem"
        rows={6}
        required
        defaultValue={pasted.certPem}
        error={errors.certPem?.[0]}
      />
      <TextArea
        label="The customer's chain up to their root (PEM, issuer first)"
        name="chainPem"
        rows={6}
        required
        defaultValue={pasted.chainPem}
        error={errors.chainPem?.[0]}
      />
      <FormMessage message={state.status === "error" ? state.message : null} />
      <Button type="submit" disabled={pending}>
        {pending ? "Checking…" : "Check and import"}
      </Button>
    </form>
  );
}
