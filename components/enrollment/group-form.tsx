"use client";

import { useActionState } from "react";
import { addGroupAction } from "@/app/(portal)/enrollment/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import { Field, SelectField, TextArea } from "@/components/ui/field.tsx";
import { FormMessage } from "@/components/ui/form-message.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";

const initial: ActionState<{ id: string; name: string }> = { status: "idle" };

/**
 * Add an enrollment group (SPEC §5, plgd DPS style): devices whose verified chain ends in this manufacturer CA
 * enroll into the customer, their certificates carrying the chosen user's UID. CA certificates are public, so the
 * form also takes a verification certificate the CA signed with the customer's registration code (`code`) as its
 * CN: the proof that whoever registers the CA holds its key.
 */
export function GroupForm({ users, code }: { users: { uid: string; email: string }[]; code: string }) {
  const [state, action, pending] = useActionState(addGroupAction, initial);
  const errors = state.status === "invalid" ? state.fieldErrors : {};
  const values = state.status === "invalid" ? (state.values ?? {}) : {};
  return (
    <form action={action} className="max-w-2xl space-y-4" noValidate aria-label="Add an enrollment group">
      <Field label="Group name" name="name" autoComplete="off" defaultValue={values.name} error={errors.name?.[0]} />
      <SelectField
        label="UID carried by the group's devices"
        name="uid"
        defaultValue={values.uid ?? users[0]?.uid ?? ""}
        error={errors.uid?.[0]}
        options={users.map((u) => ({ value: u.uid, label: `${u.email} (${u.uid})` }))}
      />
      <Field label="CA certificate file (PEM)" name="caFile" type="file" accept=".pem,.crt,.cer,.txt" />
      <TextArea
        label="Or paste the CA certificate (PEM)"
        name="caPem"
        rows={6}
        error={errors.caPem?.[0]}
        hint="The manufacturer CA that signs the devices' certificates: a CA certificate (basicConstraints CA:TRUE)."
      />
      <div className="text-sm">
        <p>
          Your registration code: <code data-testid="registration-code">{code}</code>
        </p>
        <p className="mt-1 text-xs text-slate-600 dark:text-slate-400">
          Have your CA sign a certificate with CN={code}:{" "}
          <code className="break-all">{`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout verification.key -subj "/CN=${code}" -CA ca.pem -CAkey ca.key -days 1 -out verification.pem`}</code>
        </p>
      </div>
      <Field label="Verification certificate file (PEM)" name="verificationFile" type="file" accept=".pem,.crt,.cer,.txt" />
      <TextArea
        label="Or paste the verification certificate (PEM)"
        name="verificationPem"
        rows={6}
        error={errors.verificationPem?.[0]}
        hint="Signed by the CA's key, with your registration code as its subject CN: proof that you hold the CA's key."
      />
      <FormMessage
        tone={state.status === "ok" ? "success" : "error"}
        message={state.status === "error" ? state.message : state.status === "ok" ? (state.message ?? null) : null}
      />
      <Button type="submit" disabled={pending}>
        {pending ? "Adding…" : "Add group"}
      </Button>
    </form>
  );
}
