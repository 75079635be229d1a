import type { ReactNode } from "react";
import { Sidebar } from "@/components/layout/sidebar.tsx";
import { requireUser } from "@/lib/auth/session.ts";

export const dynamic = "force-dynamic";

export default async function PortalLayout({ children }: { children: ReactNode }) {
  const user = await requireUser();
  return (
    <div className="flex min-h-screen">
      <Sidebar user={user} />
      <main className="flex-1 p-8">{children}</main>
    </div>
  );
}
