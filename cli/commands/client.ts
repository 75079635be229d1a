import { createClient, disableClient, rotateClientSecret } from "../../lib/data/clients/manage-clients.ts";
import { type Command, flags, required } from "../io.ts";

const cli = { type: "system", id: "cli" } as const;

export const clientRotate: Command = {
  name: "client rotate",
  summary: "replace an API client's secret (the old one stops working at once); prints the new secret once",
  usage: "pss client rotate <client-id> [--json]",
  needsDb: true,
  async run({ args }) {
    const { positionals } = flags(args, {});
    return rotateClientSecret({ clientId: required(positionals[0], "client-id (positional)"), customerId: null, actor: cli });
  },
};

export const clientCreate: Command = {
  name: "client create",
  summary: "a further API client for a customer user; prints its secret once",
  usage: "pss client create --uid U [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, { uid: { type: "string" } });
    return createClient({ uid: required(values.uid, "uid"), customerId: null, actor: cli });
  },
};

export const clientDisable: Command = {
  name: "client disable",
  summary: "disable an API client",
  usage: "pss client disable <client-id> [--json]",
  needsDb: true,
  async run({ args }) {
    const { positionals } = flags(args, {});
    return disableClient({ clientId: required(positionals[0], "client-id (positional)"), customerId: null, actor: cli });
  },
};
