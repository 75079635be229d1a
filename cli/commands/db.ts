import { deployMigrations } from "../../lib/db/migrator.ts";
import { dbTarget, describeTarget } from "../../lib/db/target.ts";
import { env } from "../../lib/env.ts";
import type { Command } from "../io.ts";

export const dbMigrate: Command = {
  name: "db migrate",
  summary: "apply pending database migrations",
  usage: "pss db migrate [--json]",
  async run() {
    const target = dbTarget(env());
    const applied = await deployMigrations(target);
    return { database: describeTarget(target), applied };
  },
};
