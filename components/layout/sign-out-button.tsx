"use client";

import { signOut } from "next-auth/react";
import { Button } from "@/components/ui/button.tsx";

export function SignOutButton() {
  return (
    <Button variant="secondary" onClick={() => signOut({ callbackUrl: "/signin" })}>
      Sign out
    </Button>
  );
}
