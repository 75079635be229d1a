"use client";

import { releaseBootstrapAction } from "@/app/(portal)/bootstrap/actions.ts";
import { RowActionButton } from "@/components/ui/row-action-button.tsx";

/** Lift a bootstrapping certificate's quarantine (customer admins). */
export function ReleaseButton({ serial }: { serial: string }) {
  return (
    <RowActionButton
      action={releaseBootstrapAction}
      name="serial"
      value={serial}
      label="Release quarantine"
      pendingLabel="Releasing…"
      invalidMessage="Not a serial number."
    />
  );
}
