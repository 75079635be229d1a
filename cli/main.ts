// The `pss` command line: `pss <group> <verb> [--flags] [--json]`. With --json every command prints one
// JSON object (errors too: {"error": {"code", "message"}}), for scripts.
import { ZodError } from "zod";
import { closeDb } from "../lib/db/client.ts";
import { deployMigrations } from "../lib/db/migrator.ts";
import { dbTarget } from "../lib/db/target.ts";
import { ConfigError, env } from "../lib/env.ts";
import { AppError } from "../lib/errors.ts";
import { benchAll, benchApiCommand, benchIssue } from "./commands/bench.ts";
import { benchEnroll } from "./commands/bench-enroll.ts";
import { caExport, caExternalCsr, caExternalImport, caExternalList, caList, caRevoke, caRotate, init } from "./commands/ca.ts";
import { certIssue, certRevoke, certShow, crlPublish } from "./commands/cert.ts";
import { clientCreate, clientDisable, clientRotate } from "./commands/client.ts";
import { customerCreate } from "./commands/customer.ts";
import { dbMigrate } from "./commands/db.ts";
import {
  deviceOverdue,
  deviceReset,
  deviceSecretAdd,
  groupAdd,
  groupCode,
  policyRelease,
  policySet,
  policyShow,
} from "./commands/enrollment.ts";
import { factoryEnroll } from "./commands/factory.ts";
import { hsmPrune } from "./commands/hsm.ts";
import { masterKeyRotate } from "./commands/master-key.ts";
import { benchFleetCommand, seed } from "./commands/seed.ts";
import { userCreate } from "./commands/user.ts";
import { type Command, PartialResult } from "./io.ts";

const COMMANDS: Command[] = [
  dbMigrate,
  init,
  caList,
  caRotate,
  caExternalCsr,
  caExternalList,
  caExternalImport,
  masterKeyRotate,
  hsmPrune,
  caRevoke,
  caExport,
  customerCreate,
  clientCreate,
  clientRotate,
  clientDisable,
  userCreate,
  certIssue,
  certRevoke,
  certShow,
  crlPublish,
  benchIssue,
  benchApiCommand,
  factoryEnroll,
  policySet,
  policyShow,
  policyRelease,
  deviceSecretAdd,
  deviceOverdue,
  deviceReset,
  groupAdd,
  groupCode,
  benchEnroll,
  seed,
  benchFleetCommand,
  // last: `bench issue` and the other benches are found first
  benchAll,
];

function usage(): string {
  return ["usage: pss <command> [options] [--json]", "", ...COMMANDS.map((c) => `  ${c.usage}\n      ${c.summary}`)].join("\n");
}

function toError(e: unknown): { code: string; message: string; exit: number } {
  if (e instanceof AppError) return { code: e.code, message: e.message, exit: e.status === 2 ? 2 : 1 };
  if (e instanceof ConfigError) return { code: e.code, message: e.message, exit: 1 };
  if (e instanceof ZodError) {
    const i = e.issues[0];
    return { code: "invalid_input", message: `${i.path.join(".") || "input"}: ${i.message}`, exit: 2 };
  }
  return { code: "internal_error", message: e instanceof Error ? e.message.split("\n")[0] : String(e), exit: 1 };
}

function print(value: unknown, json: boolean) {
  if (json) console.log(JSON.stringify(value));
  else if (typeof value === "string") console.log(value);
  else console.log(JSON.stringify(value, null, 2));
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const words = argv.filter((a) => !a.startsWith("-"));
  const cmd = COMMANDS.find((c) => c.name.split(" ").every((w, i) => words[i] === w));
  if (!cmd) {
    const help = argv.length === 0 || argv.includes("--help");
    // a script asked for JSON: it gets the error as JSON too, the usage stays on stderr for a person
    // named by the words before the first flag only: a flag's value (a password) is never echoed to stdout
    const first = argv.findIndex((a) => a.startsWith("-"));
    const named = (first < 0 ? argv : argv.slice(0, first)).slice(0, 3);
    if (json && !help)
      console.log(JSON.stringify({ error: { code: "usage", message: `unknown command: ${named.join(" ") || "(none)"}` } }));
    console.error(usage());
    return help ? 0 : 2;
  }
  const rest = [...argv];
  for (const w of cmd.name.split(" ")) rest.splice(rest.indexOf(w), 1);
  try {
    // Migrations first, in this process (one schema engine per process; the CLI is its own process).
    if (cmd.needsDb) await deployMigrations(dbTarget(env()));
    const out = await cmd.run({ args: rest, json });
    if (out instanceof PartialResult) {
      print(out.value, json);
      return out.exit;
    }
    print(out, json);
    return 0;
  } catch (e) {
    const err = toError(e);
    if (json) console.log(JSON.stringify({ error: { code: err.code, message: err.message } }));
    else console.error(`pss: ${err.message}${err.exit === 2 ? `\n\n${cmd.usage}` : ""}`);
    return err.exit;
  } finally {
    await closeDb().catch(() => {});
  }
}

// A command whose promise can never settle (a bug) must not exit 0 silently.
process.on("beforeExit", () => {
  console.error("pss: internal error: the command stopped without finishing");
  process.exit(70);
});

// Exit explicitly: the wasm schema engine leaves a timer pending.
main(process.argv.slice(2)).then((code) => process.exit(code));
