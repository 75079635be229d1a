"use client";

import { disableGroupAction } from "@/app/(portal)/enrollment/actions.ts";
import { RowActionButton } from "@/components/ui/row-action-button.tsx";

/** Disable one enrollment group (final): its devices are refused from now on. */
export function DisableGroupButton({ id, name }: { id: string; name: string }) {
  return (
    <RowActionButton
      action={disableGroupAction}
      name="groupId"
      value={id}
      label="Disable"
      pendingLabel="Disabling…"
      ariaLabel={`Disable group ${name}`}
      variant="danger"
      invalidMessage="Not an enrollment group."
    />
  );
}
