import { createCustomer } from "../../lib/data/customers/create-customer.ts";
import { type Command, flags, required, secretArg } from "../io.ts";

export const customerCreate: Command = {
  name: "customer create",
  summary: "onboard a customer: its admin user, API client and CAs",
  usage: "pss customer create --name N --admin-email E [--admin-password-file F | --admin-password P] [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, {
      name: { type: "string" },
      "admin-email": { type: "string" },
      "admin-password": { type: "string" },
      "admin-password-file": { type: "string" },
    });
    return createCustomer(
      {
        name: required(values.name, "name"),
        adminEmail: required(values["admin-email"], "admin-email"),
        adminPassword: secretArg(values["admin-password"], values["admin-password-file"], "admin-password"),
      },
      { type: "system", id: "cli" },
    );
  },
};
