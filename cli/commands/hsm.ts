import { pruneTokenKeys } from "../../lib/data/ca/token-keys.ts";
import { type Command, flags } from "../io.ts";

export const hsmPrune: Command = {
  name: "hsm prune",
  summary: "destroy key pairs on the PKCS#11 token that no CA names (left by failed onboardings, replaced CSR requests)",
  usage: "pss hsm prune [--dry-run] [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, { "dry-run": { type: "boolean" } });
    return pruneTokenKeys({ dryRun: values["dry-run"] ?? false, actor: { type: "system", id: "cli" } });
  },
};
