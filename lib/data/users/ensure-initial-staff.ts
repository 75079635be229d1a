import fs from "node:fs";
import path from "node:path";
import { generatePassword } from "../../auth/password.ts";
import { db } from "../../db/client.ts";
import { writeNewSecretFile } from "../../db/target.ts";
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

/**
 * Hands the generated first password to the operator, once: on a terminal it is printed; otherwise standard output
 * is a log (journald, a container's log driver) that keeps it for ever, so it goes into a file of the data directory
 * only the service's user can read, and the console names the file. Returns where it went.
 */
export function handOverInitialPassword(
  staff: { email: string; generatedPassword: string },
  dataDir: string,
  out: { isTTY?: boolean; write(s: string): unknown } = process.stdout,
): { printed: true } | { file: string } {
  if (out.isTTY) {
    out.write(`\nCreated the first staff account: ${staff.email}\nIts generated password (shown only now): ${staff.generatedPassword}\n\n`);
    return { printed: true };
  }
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, "initial-staff-password");
  fs.rmSync(file, { force: true });
  writeNewSecretFile(file, `${staff.email}\n${staff.generatedPassword}\n`);
  out.write(
    `\nCreated the first staff account: ${staff.email}\nIts generated password is in ${file} (readable only by this user): sign in, then delete the file.\n\n`,
  );
  return { file };
}
