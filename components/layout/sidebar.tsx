import Link from "next/link";
import type { SessionUser } from "@/lib/auth/options.ts";
import { ROLE_LABEL } from "@/lib/auth/session.ts";
import { navFor } from "./nav.ts";
import { SignOutButton } from "./sign-out-button.tsx";

export function Sidebar({ user }: { user: SessionUser }) {
  return (
    <aside className="flex w-64 shrink-0 flex-col border-r border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
      <div className="px-2 text-lg font-semibold">PSS</div>
      <nav aria-label="Main" className="mt-6 flex-1">
        <ul className="space-y-1">
          {navFor(user.role).map((item) => (
            <li key={item.href}>
              <Link href={item.href} className="block rounded-md px-2 py-1.5 text-sm hover:bg-slate-100 dark:hover:bg-slate-800">
                {item.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div className="space-y-2 border-t border-slate-200 pt-4 text-sm dark:border-slate-800">
        <div className="truncate" title={user.email}>
          {user.email}
        </div>
        <div className="text-slate-600 dark:text-slate-400" data-testid="role">
          {ROLE_LABEL[user.role]}
        </div>
        <SignOutButton />
      </div>
    </aside>
  );
}
