import { rotateMasterKey } from "../../lib/data/ca/master-key.ts";
import { type Command, flags, readFile } from "../io.ts";

export const masterKeyRotate: Command = {
  name: "master-key rotate",
  summary:
    "re-seal every software CA key under a new master key (a new key file with the embedded database, or --new-key-file); restart every process with it",
  usage: "pss master-key rotate [--new-key-file FILE] [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, { "new-key-file": { type: "string" } });
    const newKey = values["new-key-file"] ? readFile(values["new-key-file"], "the new master key").toString("utf8") : undefined;
    const r = await rotateMasterKey({ newKey, actor: { type: "system", id: "cli" } });
    return {
      ...r,
      next: r.keyFile
        ? `${r.keyFile} now holds the new key: back it up (the old one opens nothing any more)`
        : "set PSS_MASTER_KEY to the new key in every process and restart them: processes with the old key refuse to start",
    };
  },
};
