// `npm run db:migrate` (deploy) and `npm run db:new -- <name>`. Runs in its own process: the wasm
// schema engine allows one instance per process and leaves a timer pending, so exit explicitly.
import { createMigration, deployMigrations } from "../lib/db/migrator.ts";
import { dbTarget, describeTarget } from "../lib/db/target.ts";
import { env } from "../lib/env.ts";

async function main(args: string[]) {
  const target = dbTarget(env());
  const [cmd = "deploy", name = "migration"] = args;
  if (cmd === "deploy") {
    const applied = await deployMigrations(target);
    console.log(
      applied.length
        ? `Applied migrations to ${describeTarget(target)}: ${applied.join(", ")}`
        : `No pending migrations (${describeTarget(target)}).`,
    );
  } else if (cmd === "dev") {
    const created = await createMigration(target, name);
    console.log(created ? `Created prisma/migrations/${created}` : "No schema changes.");
  } else {
    console.error("usage: migrate.ts deploy | dev <name>");
    process.exit(2);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e) => {
    console.error(`migration failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
    process.exit(1);
  },
);
