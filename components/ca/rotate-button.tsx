"use client";

import { rotateCaAction } from "@/app/(portal)/ca/actions.ts";
import { RowActionButton } from "@/components/ui/row-action-button.tsx";

export function RotateButton({ caId, subject }: { caId: string; subject: string }) {
  return (
    <RowActionButton
      action={rotateCaAction}
      name="caId"
      value={caId}
      label="Rotate now"
      pendingLabel="Rotating…"
      ariaLabel={`Rotate ${subject} now`}
    />
  );
}
