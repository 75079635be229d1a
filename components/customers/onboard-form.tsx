"use client";

import Link from "next/link";
import { useActionState } from "react";
import { onboardCustomerAction } from "@/app/(portal)/customers/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import { Field } from "@/components/ui/field.tsx";
import { FormMessage } from "@/components/ui/form-message.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";
import type { OnboardedCustomer } from "@/lib/data/customers/create-customer.ts";

const initial: ActionState<OnboardedCustomer> = { status: "idle" };

/** The onboarding wizard: step 1 the form, step 2 the credentials, shown once. */
export function OnboardForm() {
  const [state, action, pending] = useActionState(onboardCustomerAction, initial);
  if (state.status === "ok") return <Credentials result={state.data} />;
  const errors = state.status === "invalid" ? state.fieldErrors : {};
  const values = state.status === "invalid" ? (state.values ?? {}) : {};
  return (
    <form action={action} className="max-w-lg space-y-4" noValidate>
      <ol className="flex gap-4 text-sm text-slate-600 dark:text-slate-400" aria-label="Steps">
        <li aria-current="step" className="font-semibold text-slate-900 dark:text-slate-100">
          1. Customer and first admin
        </li>
        <li>2. Credentials (shown once)</li>
      </ol>
      <Field label="Customer name" name="name" required defaultValue={values.name} error={errors.name?.[0]} />
      <Field label="Admin email" name="adminEmail" type="email" required defaultValue={values.adminEmail} error={errors.adminEmail?.[0]} />
      <Field
        label="Admin password"
        name="adminPassword"
        type="password"
        autoComplete="new-password"
        hint="Leave empty to generate one; it is shown once."
        error={errors.adminPassword?.[0]}
      />
      <FormMessage message={state.status === "error" ? state.message : null} />
      <Button type="submit" disabled={pending}>
        {pending ? "Creating customer and CAs…" : "Create customer"}
      </Button>
    </form>
  );
}

function Secret({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <dt className="text-sm font-medium">{label}</dt>
      <dd>
        <code className="block break-all rounded bg-slate-100 px-2 py-1 text-sm dark:bg-slate-800" data-testid={`secret-${label}`}>
          {value}
        </code>
      </dd>
    </div>
  );
}

function Credentials({ result }: { result: OnboardedCustomer }) {
  return (
    <section aria-labelledby="created" className="max-w-2xl space-y-4">
      <div role="status">
        <h2 id="created" className="text-lg font-semibold">
          Customer {result.customer.name} created
        </h2>
      </div>
      <p className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-200">
        Copy these now: the client secret{result.generatedPassword ? " and the generated password are" : " is"} shown only once and cannot
        be retrieved later.
      </p>
      <dl className="space-y-3">
        <Secret label="Admin sign-in email" value={result.user.email} />
        {result.generatedPassword && <Secret label="Admin password" value={result.generatedPassword} />}
        <Secret label="Admin UID" value={result.user.uid} />
        <Secret label="API client id" value={result.client.clientId} />
        <Secret label="API client secret" value={result.client.clientSecret} />
      </dl>
      <Link href={`/customers/${result.customer.id}`} className="inline-block text-blue-700 underline dark:text-blue-400">
        Open {result.customer.name}
      </Link>
    </section>
  );
}
