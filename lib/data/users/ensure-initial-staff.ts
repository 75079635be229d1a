import { generatePassword } from "../../auth/password.ts";
import { db } from "../../db/client.ts";
import { env } from "../../env.ts";
import { isAppError } from "../../errors.ts";
import { createUser } from "./create-user.ts";

/**
 * First start: create a staff account when none exists, from PSS_ADMIN_EMAIL / PSS_ADMIN_PASSWORD, or with
 * a generated password returned to the caller to print once. Returns null when staff already exists.
 */
export async function ensureInitialStaff(): Promise<{ email: string; generatedPassword?: string } | null> {
  const staffExists = async () => (await db().user.count({ where: { role: "STAFF" } })) > 0;
  if (await staffExists()) return null;
  const e = env();
  const email = e.PSS_ADMIN_EMAIL ?? "admin@pss.local";
  const generatedPassword = e.PSS_ADMIN_PASSWORD ? undefined : generatePassword();
  try {
    await createUser(
      { email, role: "STAFF", password: e.PSS_ADMIN_PASSWORD ?? generatedPassword, name: "PSS staff" },
      { type: "system", id: "first-start" },
    );
  } catch (err) {
    // several processes starting on one fresh database: another one created the account first (and printed its
    // password). An address taken by a user who is no staff is still an error: nobody could administer the service.
    if (isAppError(err) && err.code === "user_exists" && (await staffExists())) return null;
    throw err;
  }
  return { email, generatedPassword };
}
