"use client";

import { disableSigningKeyAction } from "@/app/(portal)/keys/actions.ts";
import { RowActionButton } from "@/components/ui/row-action-button.tsx";

/** Disable one key (final). */
export function DisableKeyButton({ kid }: { kid: string }) {
  return (
    <RowActionButton
      action={disableSigningKeyAction}
      name="kid"
      value={kid}
      label="Disable"
      pendingLabel="Disabling…"
      ariaLabel={`Disable key ${kid}`}
      variant="danger"
      invalidMessage="Not a key id."
    />
  );
}
