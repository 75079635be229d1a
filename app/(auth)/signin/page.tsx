import { redirect } from "next/navigation";
import { getServerSession } from "next-auth";
import { SignInForm } from "@/components/auth/sign-in-form.tsx";
import { authOptions } from "@/lib/auth/options.ts";
import { env } from "@/lib/env.ts";

export const dynamic = "force-dynamic";

export default async function SignInPage() {
  if ((await getServerSession(authOptions()))?.user) redirect("/");
  const e = env();
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <div className="w-full max-w-sm rounded-xl border border-slate-200 bg-white p-8 shadow-sm dark:border-slate-800 dark:bg-slate-900">
        <h1 className="text-xl font-semibold">Sign in to PSS</h1>
        <p className="mt-1 text-sm text-slate-600 dark:text-slate-400">Certificate Signing Service</p>
        <SignInForm sso={Boolean(e.OIDC_ISSUER && e.OIDC_CLIENT_ID)} />
      </div>
    </main>
  );
}
