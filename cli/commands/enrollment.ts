import { rotationOverdue } from "../../lib/data/devices/rotation-overdue.ts";
import {
  addDeviceSecret,
  addEnrollmentGroup,
  registrationCode,
  releaseBootstrap,
  setEnrollmentPolicy,
  showEnrollmentPolicies,
} from "../../lib/data/enrollment/manage-policy.ts";
import { resetDevice } from "../../lib/data/fleet/decommission-device.ts";
import { db } from "../../lib/db/client.ts";
import { AppError } from "../../lib/errors.ts";
import { revocationReasonSchema } from "../../lib/pki/crl.ts";
import { isUuid } from "../../lib/validations/common.ts";
import { type Command, flags, readFile, required, secretArg } from "../io.ts";

const cli = { type: "system", id: "cli" } as const;

/** --customer takes the customer's id or exact name. */
async function customerId(value: string | undefined): Promise<string> {
  const v = required(value, "customer");
  const c = await db().customer.findFirst({
    where: isUuid(v) ? { id: v } : { name: v },
    select: { id: true },
  });
  if (!c) throw new AppError("customer_not_found", `no such customer: ${v}`, 404);
  return c.id;
}

const list = (v: string | undefined) =>
  v === undefined
    ? undefined
    : v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);

/**
 * --rate-per-minute: a whole number (0: no limit), or "inherit" to clear this policy's own value. Digits only, so a
 * blank or a typo cannot become 0 and lift the limit.
 */
function rateFlag(v: string | undefined): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === "inherit") return null;
  if (!/^\d{1,7}$/.test(v)) throw new AppError("usage", "--rate-per-minute takes a whole number (0: no limit) or inherit", 2);
  return Number(v);
}

export const policySet: Command = {
  name: "policy set",
  summary: "set the enrollment policy of a customer, or of one bootstrapping certificate (--bootstrap SERIAL)",
  usage:
    "pss policy set --customer C [--bootstrap SERIAL] [--allow ID,…] [--deny ID,…] [--max N|none] [--until ISO|none] [--require-secret true|false] [--rate-per-minute N|inherit] [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, {
      customer: { type: "string" },
      bootstrap: { type: "string" },
      allow: { type: "string" },
      deny: { type: "string" },
      max: { type: "string" },
      until: { type: "string" },
      "require-secret": { type: "string" },
      "rate-per-minute": { type: "string" },
    });
    const none = (v: string | undefined) => (v === undefined ? undefined : v === "none" ? null : v);
    const max = none(values.max);
    const until = none(values.until);
    const rate = rateFlag(values["rate-per-minute"]);
    const allow = list(values.allow);
    const deny = list(values.deny);
    return setEnrollmentPolicy(
      {
        customerId: await customerId(values.customer),
        ...(values.bootstrap ? { bootstrapSerial: values.bootstrap } : {}),
        ...(allow ? { allowDeviceIds: allow } : {}),
        ...(deny ? { denyDeviceIds: deny } : {}),
        ...(max === undefined ? {} : { maxEnrollments: max === null ? null : Number(max) }),
        ...(until === undefined ? {} : { enrollUntil: until === null ? null : new Date(until) }),
        ...(values["require-secret"] === undefined ? {} : { requireDeviceSecret: values["require-secret"] === "true" }),
        ...(rate === undefined ? {} : { enrollRatePerMinute: rate }),
      },
      cli,
    );
  },
};

export const policyShow: Command = {
  name: "policy show",
  // defaultEnrollRatePerMinute is DEVICE_ENROLL_RATE_PER_MINUTE as this command's environment sets it: run it with
  // the listener's settings to see the listener's default
  summary: "show a customer's enrollment policies and quarantined bootstrapping certificates",
  usage: "pss policy show --customer C [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, { customer: { type: "string" } });
    return showEnrollmentPolicies(await customerId(values.customer));
  },
};

export const policyRelease: Command = {
  name: "policy release",
  summary: "release a quarantined bootstrapping certificate",
  usage: "pss policy release --customer C --bootstrap SERIAL [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, { customer: { type: "string" }, bootstrap: { type: "string" } });
    return releaseBootstrap(await customerId(values.customer), required(values.bootstrap, "bootstrap"), cli);
  },
};

export const deviceSecretAdd: Command = {
  name: "device secret add",
  summary: "register a one-time enrollment secret for a device id (printed once; the device sends it as CSR challengePassword)",
  usage: "pss device secret add --customer C --device-id D [--secret-file F | --secret S] [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, {
      customer: { type: "string" },
      "device-id": { type: "string" },
      secret: { type: "string" },
      "secret-file": { type: "string" },
    });
    // a chosen secret from a file keeps it out of the process list and the shell history
    const secret = secretArg(values.secret, values["secret-file"], "secret");
    return addDeviceSecret(
      {
        customerId: await customerId(values.customer),
        deviceId: required(values["device-id"], "device-id"),
        ...(secret ? { secret } : {}),
      },
      cli,
    );
  },
};

export const deviceOverdue: Command = {
  name: "device overdue",
  summary: "list a customer's devices whose Client TLS certificate is older than 30 days (rotation overdue)",
  usage: "pss device overdue --customer C [--limit N] [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, { customer: { type: "string" }, limit: { type: "string" } });
    return rotationOverdue({ customerId: await customerId(values.customer), limit: Number(values.limit ?? 100) });
  },
};

export const deviceReset: Command = {
  name: "device reset",
  summary:
    "reset a device id: revoke every certificate it holds; its next simpleenroll with the bootstrapping certificate that enrolled it (or --bootstrap) re-enrolls it, once",
  usage: "pss device reset --customer C --device-id D [--reason superseded|keyCompromise|…] [--bootstrap SERIAL] [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, {
      customer: { type: "string" },
      "device-id": { type: "string" },
      reason: { type: "string" },
      bootstrap: { type: "string" },
    });
    const reason = revocationReasonSchema.safeParse(values.reason ?? "superseded");
    if (!reason.success) throw new AppError("invalid_reason", `--reason must be one of ${revocationReasonSchema.options.join(", ")}`, 400);
    return resetDevice({
      customerId: await customerId(values.customer),
      deviceId: required(values["device-id"], "device-id"),
      reason: reason.data,
      ...(values.bootstrap ? { bootstrapSerial: values.bootstrap } : {}),
      actor: cli,
    });
  },
};

export const groupAdd: Command = {
  name: "group add",
  summary:
    "add an enrollment group: devices whose chain's leaf-most CA is this manufacturer CA enroll into the customer; --verification-cert: a certificate the CA signed with CN=<pss group code>",
  usage: "pss group add --customer C --name N --ca FILE --verification-cert FILE --uid U [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, {
      customer: { type: "string" },
      name: { type: "string" },
      ca: { type: "string" },
      "verification-cert": { type: "string" },
      uid: { type: "string" },
    });
    const caCert = readFile(required(values.ca, "ca"), "the CA certificate");
    const verificationCert = readFile(required(values["verification-cert"], "verification-cert"), "the verification certificate");
    return addEnrollmentGroup(
      {
        customerId: await customerId(values.customer),
        name: required(values.name, "name"),
        caCert,
        verificationCert,
        uid: required(values.uid, "uid"),
      },
      cli,
    );
  },
};

export const groupCode: Command = {
  name: "group code",
  summary: "print a customer's enrollment group registration code: the CN of the verification certificate `group add` needs",
  usage: "pss group code --customer C [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, { customer: { type: "string" } });
    const id = await customerId(values.customer);
    const code = registrationCode(id);
    return {
      customerId: id,
      code,
      // the one openssl command that proves possession of the CA's key (ca.pem, ca.key: the maker CA)
      command: `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout verification.key -subj "/CN=${code}" -CA ca.pem -CAkey ca.key -days 1 -out verification.pem`,
    };
  },
};
