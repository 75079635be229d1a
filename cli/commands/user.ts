import { createUser } from "../../lib/data/users/create-user.ts";
import { roleSchema } from "../../lib/validations/user.ts";
import { type Command, flags, required, secretArg } from "../io.ts";

export const userCreate: Command = {
  name: "user create",
  summary: "create a portal/API user",
  usage:
    "pss user create --email E --role STAFF|CUSTOMER_ADMIN|CUSTOMER_VIEWER [--customer ID] [--password-file F | --password P] [--name N] [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, {
      email: { type: "string" },
      role: { type: "string" },
      customer: { type: "string" },
      password: { type: "string" },
      "password-file": { type: "string" },
      name: { type: "string" },
    });
    const user = await createUser(
      {
        email: required(values.email, "email"),
        role: roleSchema.parse(required(values.role, "role").toUpperCase().replace(/-/g, "_")),
        customerId: values.customer,
        password: secretArg(values.password, values["password-file"], "password"),
        name: values.name,
      },
      { type: "system", id: "cli" },
    );
    return { user: { id: user.id, uid: user.uid, email: user.email, role: user.role, customerId: user.customerId } };
  },
};
