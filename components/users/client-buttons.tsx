"use client";

import { useActionState } from "react";
import { disableClientAction, type NewCredentials, newClientAction, rotateSecretAction } from "@/app/(portal)/users/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import { FormMessage } from "@/components/ui/form-message.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";
import { CredentialsNotice } from "./credentials-notice.tsx";

type Action = (prev: ActionState<NewCredentials>, form: FormData) => Promise<ActionState<NewCredentials>>;
const initial: ActionState<NewCredentials> = { status: "idle" };

/** One small form posting a hidden field to one action, with its answer (and any new secret) below it. */
function ActionButton({
  action,
  name,
  value,
  label,
  variant,
}: {
  action: Action;
  name: string;
  value: string;
  label: string;
  variant?: "secondary" | "danger";
}) {
  const [state, run, pending] = useActionState(action, initial);
  return (
    <form action={run} className="space-y-2">
      <input type="hidden" name={name} value={value} />
      <Button type="submit" variant={variant ?? "secondary"} disabled={pending} aria-label={`${label} ${value}`}>
        {label}
      </Button>
      <FormMessage message={state.status === "error" ? state.message : state.status === "invalid" ? "Invalid request." : null} />
      {state.status === "ok" && <CredentialsNotice creds={state.data} />}
    </form>
  );
}

export function RotateSecretButton({ clientId }: { clientId: string }) {
  return <ActionButton action={rotateSecretAction} name="clientId" value={clientId} label="Rotate secret" />;
}

export function DisableClientButton({ clientId }: { clientId: string }) {
  return <ActionButton action={disableClientAction} name="clientId" value={clientId} label="Disable" variant="danger" />;
}

export function NewClientButton({ uid }: { uid: string }) {
  return <ActionButton action={newClientAction} name="uid" value={uid} label="New API client" />;
}
