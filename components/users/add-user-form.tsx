"use client";

import { useActionState } from "react";
import { addUserAction, type NewCredentials } from "@/app/(portal)/users/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import { Field, SelectField } from "@/components/ui/field.tsx";
import { FormMessage } from "@/components/ui/form-message.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";
import { CredentialsNotice } from "./credentials-notice.tsx";

const initial: ActionState<NewCredentials> = { status: "idle" };

export function AddUserForm() {
  const [state, action, pending] = useActionState(addUserAction, initial);
  const errors = state.status === "invalid" ? state.fieldErrors : {};
  const values = state.status === "invalid" ? (state.values ?? {}) : {};
  return (
    <form action={action} className="max-w-lg space-y-4" noValidate aria-labelledby="add-user">
      <h2 id="add-user" className="text-lg font-semibold">
        Add a user
      </h2>
      <Field label="Email" name="email" type="email" required defaultValue={values.email} error={errors.email?.[0]} />
      <SelectField
        label="Role"
        name="role"
        defaultValue={values.role || "CUSTOMER_VIEWER"}
        error={errors.role?.[0]}
        options={[
          { value: "CUSTOMER_VIEWER", label: "Viewer (read only)" },
          { value: "CUSTOMER_ADMIN", label: "Admin" },
        ]}
      />
      <Field
        label="Password"
        name="password"
        type="password"
        autoComplete="new-password"
        hint="Leave empty to generate one; it is shown once."
        error={errors.password?.[0]}
      />
      <FormMessage message={state.status === "error" ? state.message : null} />
      {state.status === "ok" && <CredentialsNotice creds={state.data} />}
      <Button type="submit" disabled={pending}>
        {pending ? "Adding…" : "Add user"}
      </Button>
    </form>
  );
}
