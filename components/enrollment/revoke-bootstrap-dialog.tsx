"use client";

import { useActionState, useEffect, useId, useRef, useState } from "react";
import { type RevokedBootstrap, revokeBootstrapAction } from "@/app/(portal)/bootstrap/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import { Field, SelectField } from "@/components/ui/field.tsx";
import { FormMessage } from "@/components/ui/form-message.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";

const initial: ActionState<RevokedBootstrap> = { status: "idle" };

/**
 * Revoke a bootstrapping certificate (a leaked key) from its row: a modal dialog is the confirmation step. It
 * can also revoke the Client TLS and application certificates of the devices the certificate enrolled at or after
 * a time; on an already revoked certificate only that part is left.
 */
export function RevokeBootstrapDialog({
  serial,
  enrolled,
  revoked,
  reasons,
}: {
  serial: string;
  enrolled: number;
  revoked: boolean;
  reasons: { value: string; label: string }[];
}) {
  const [state, action, pending] = useActionState(revokeBootstrapAction, initial);
  const dialog = useRef<HTMLDialogElement>(null);
  const [alsoDevices, setAlsoDevices] = useState(revoked);
  const titleId = useId();
  const errors = state.status === "invalid" ? state.fieldErrors : {};
  const values = state.status === "invalid" ? (state.values ?? {}) : {};

  useEffect(() => {
    if (state.status === "ok") dialog.current?.close();
  }, [state]);

  const title = revoked ? `Revoke the devices enrolled with ${serial}` : `Revoke bootstrapping certificate ${serial}`;
  return (
    <div className="flex items-center gap-2">
      <Button type="button" variant="danger" className="px-2 py-1 text-xs" onClick={() => dialog.current?.showModal()}>
        {revoked ? "Revoke its devices…" : "Revoke…"}
      </Button>
      <span role="status" aria-live="polite" className="text-xs">
        {state.status === "ok" ? state.message : ""}
      </span>
      <dialog
        ref={dialog}
        aria-labelledby={titleId}
        className="m-auto w-full max-w-lg rounded-lg border border-slate-200 bg-white p-6 text-slate-900 backdrop:bg-slate-900/50 dark:border-slate-700 dark:bg-slate-900 dark:text-slate-100"
      >
        <form action={action} className="space-y-4" noValidate>
          <h2 id={titleId} className="text-lg font-semibold break-all">
            {title}
          </h2>
          <p className="text-sm">
            {revoked
              ? "The certificate is revoked already. "
              : "Devices can no longer enroll with it, at once and in the next CRL. This cannot be undone. "}
            It enrolled {enrolled.toLocaleString("en")} {enrolled === 1 ? "device" : "devices"}.
          </p>
          <input type="hidden" name="serial" value={serial} />
          <SelectField
            label="Reason"
            name="reason"
            defaultValue="keyCompromise"
            options={reasons}
            error={errors.reason?.[0] ?? errors.serial?.[0]}
          />
          {revoked ? (
            <input type="hidden" name="alsoRevokeDevices" value="on" />
          ) : (
            <label className="flex items-center gap-2 text-sm">
              <input
                type="checkbox"
                name="alsoRevokeDevices"
                value="on"
                // uncontrolled: React resets the form after each submission, to this default
                defaultChecked={alsoDevices}
                onChange={(e) => setAlsoDevices(e.target.checked)}
                className="h-4 w-4"
              />
              Also revoke the certificates of devices it enrolled after a time
            </label>
          )}
          {alsoDevices && (
            <Field
              label="Devices enrolled at or after (UTC)"
              name="enrolledAfter"
              type="datetime-local"
              step={1}
              defaultValue={values.enrolledAfter}
              error={errors.enrolledAfter?.[0]}
              hint="Their Client TLS and application (C2PA) certificates are revoked with the same reason; those devices must be provisioned again."
            />
          )}
          <FormMessage message={state.status === "error" ? state.message : null} />
          <div className="flex justify-end gap-2">
            <Button type="button" variant="secondary" onClick={() => dialog.current?.close()}>
              Cancel
            </Button>
            <Button type="submit" variant="danger" disabled={pending}>
              {pending ? "Revoking…" : revoked ? "Revoke device certificates" : "Revoke certificate"}
            </Button>
          </div>
        </form>
      </dialog>
    </div>
  );
}
