import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { z } from "zod";
import { audit } from "../data/audit/record.ts";
import { db } from "../db/client.ts";
import { env } from "../env.ts";
import { log } from "../log.ts";
import { verifyPassword } from "./password.ts";
import { authSecret } from "./secret.ts";

export type Role = "STAFF" | "CUSTOMER_ADMIN" | "CUSTOMER_VIEWER";

/** What the session carries about the signed-in user (never secrets). */
export type SessionUser = { id: string; uid: string; email: string; role: Role; customerId: string | null };

declare module "next-auth" {
  interface Session {
    user: SessionUser;
  }
}

const credentials = z.object({ email: z.email(), password: z.string().min(1).max(256) });

async function authorizeCredentials(raw: unknown): Promise<SessionUser | null> {
  const parsed = credentials.safeParse(raw);
  if (!parsed.success) return null;
  const email = parsed.data.email.toLowerCase();
  const user = await db().user.findUnique({
    where: { email },
    select: { id: true, uid: true, email: true, role: true, customerId: true, passwordHash: true, disabledAt: true },
  });
  const ok = user?.passwordHash && !user.disabledAt && (await verifyPassword(user.passwordHash, parsed.data.password));
  await audit(
    null,
    { type: "user", id: user?.id ?? email, customerId: user?.customerId ?? null },
    {
      action: "auth.sign_in",
      outcome: ok ? "success" : "refused",
      target: `user:${email}`,
    },
  );
  if (!ok || !user) return null;
  return { id: user.id, uid: user.uid, email: user.email, role: user.role, customerId: user.customerId };
}

function oidcProvider(): NextAuthOptions["providers"] {
  const e = env();
  if (!e.OIDC_ISSUER || !e.OIDC_CLIENT_ID) return [];
  return [
    {
      id: "oidc",
      name: "Single sign-on",
      type: "oauth",
      wellKnown: `${e.OIDC_ISSUER.replace(/\/+$/, "")}/.well-known/openid-configuration`,
      clientId: e.OIDC_CLIENT_ID,
      clientSecret: e.OIDC_CLIENT_SECRET,
      idToken: true,
      checks: ["pkce", "state"],
      authorization: { params: { scope: "openid email profile" } },
      // Only users that already exist in PSS may sign in; the IdP proves the email address.
      async profile(profile: Record<string, unknown>) {
        const email = String(profile.email ?? "").toLowerCase();
        const user = await db().user.findUnique({
          where: { email },
          select: { id: true, uid: true, email: true, role: true, customerId: true, disabledAt: true },
        });
        if (!user || user.disabledAt) throw new Error("no PSS account for this identity");
        return { id: user.id, uid: user.uid, email: user.email, role: user.role, customerId: user.customerId };
      },
    },
  ];
}

export function authOptions(): NextAuthOptions {
  return {
    secret: authSecret(),
    session: { strategy: "jwt", maxAge: 8 * 60 * 60 },
    pages: { signIn: "/signin" },
    providers: [
      CredentialsProvider({
        name: "Email and password",
        credentials: { email: { label: "Email", type: "email" }, password: { label: "Password", type: "password" } },
        // Never let an internal error's text reach the browser (next-auth puts it in the redirect URL).
        authorize: (raw) =>
          authorizeCredentials(raw).catch((e) => {
            log.error({ err: e instanceof Error ? e.message : String(e) }, "sign-in failed with an internal error");
            return null;
          }),
      }),
      ...oidcProvider(),
    ],
    callbacks: {
      jwt({ token, user }) {
        if (user) token.user = user as unknown as SessionUser;
        return token;
      },
      session({ session, token }) {
        session.user = token.user as SessionUser;
        return session;
      },
    },
  };
}
