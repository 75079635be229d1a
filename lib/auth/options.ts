import { randomBytes } from "node:crypto";
import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { z } from "zod";
import { countInWindow, uncountInWindow } from "../data/api/rate-limit.ts";
import { audit } from "../data/audit/record.ts";
import { db } from "../db/client.ts";
import { env } from "../env.ts";
import { log } from "../log.ts";
import { hashPassword, verifyPassword } from "./password.ts";
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

/**
 * Failed sign-ins per email address and 15-minute window before that address is refused without a password
 * check until the window ends: password guessing is slowed to a crawl, and nobody can make the server run
 * argon2 (19 MiB, tens of ms) for one account without bound. Attempts still being checked count as failures, and
 * so do refused ones: however many arrive at once, no more than the limit are checked per window.
 */
export const SIGN_IN_FAILURES = { limit: 10, windowSeconds: 15 * 60 } as const;

// A hash to verify against when the email is unknown, so that an unknown address answers as slowly as a known
// one (no account enumeration by timing).
let dummyHash: Promise<string> | undefined;
const unknownUserHash = () => (dummyHash ??= hashPassword(randomBytes(18).toString("base64url")));

/** The credentials provider's check: the session user, or null (refused, audited). */
export async function authorizeCredentials(raw: unknown, now = new Date()): Promise<SessionUser | null> {
  const parsed = credentials.safeParse(raw);
  if (!parsed.success) return null;
  const email = parsed.data.email.toLowerCase();
  const failures = `signin:${email}`;
  const user = await db().user.findUnique({
    where: { email },
    select: { id: true, uid: true, email: true, role: true, customerId: true, passwordHash: true, disabledAt: true },
  });
  // Every attempt is counted, in one atomic upsert, before its password is checked, and only the success gives its
  // count back: were the failures counted after argon2, a burst of guesses sent at once would all read a count
  // under the limit and all be checked.
  const throttled = (await countInWindow(failures, SIGN_IN_FAILURES.windowSeconds, now)) > SIGN_IN_FAILURES.limit;
  let ok = false;
  if (!throttled) {
    const verified = await verifyPassword(user?.passwordHash ?? (await unknownUserHash()), parsed.data.password);
    ok = verified && !!user?.passwordHash && !user.disabledAt;
    if (ok) await uncountInWindow(failures, SIGN_IN_FAILURES.windowSeconds, now);
  }
  await audit(
    null,
    { type: "user", id: user?.id ?? email, customerId: user?.customerId ?? null },
    {
      action: "auth.sign_in",
      outcome: ok ? "success" : "refused",
      target: `user:${email}`,
      ...(throttled ? { details: { code: "rate_limited" } } : {}),
    },
  );
  if (!ok || !user) return null;
  return { id: user.id, uid: user.uid, email: user.email, role: user.role, customerId: user.customerId };
}

/**
 * The PSS user a single sign-on identity maps to. Only users that already exist in PSS may sign in, by an email
 * address the IdP says it verified: where an IdP lets people choose an address unverified (self sign-up), the
 * address alone would let anyone sign in as any PSS user, staff included.
 */
export async function oidcUser(profile: Record<string, unknown>): Promise<SessionUser> {
  if (profile.email_verified !== true && profile.email_verified !== "true") throw new Error("the identity's email address is not verified");
  const email = String(profile.email ?? "").toLowerCase();
  const user = await db().user.findUnique({
    where: { email },
    select: { id: true, uid: true, email: true, role: true, customerId: true, disabledAt: true },
  });
  if (!user || user.disabledAt) throw new Error("no PSS account for this identity");
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
      profile: (profile: Record<string, unknown>) => oidcUser(profile),
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
