// `pss-device`: the device SDK as a command line, for firmware bring-up and scripts on a Linux device.
//   pss-device cacerts  --server URL --ca ROOT.pem [--profile c2pa]
//   pss-device enroll   --server URL --ca ROOT.pem --bootstrap-cert F --bootstrap-key F --device-id ID [--secret-file F | --secret S] [--dir D] [--key-type p256|p384|ed25519]
//   pss-device rotate   [--dir D] [--force]
//   pss-device start    [--dir D]                 (rotate if due: what the device runs at boot)
//   pss-device app-cert [--dir D] [--profile c2pa]
//   pss-device status   [--dir D]
// --json prints one JSON object (errors too: {"error": {"code", "message"}}).
import fs from "node:fs";
import { parseArgs } from "node:util";
import { Device, EstError, fetchCaCerts, type KeyType } from "./index.ts";

const USAGE = `usage: pss-device <cacerts|enroll|rotate|start|app-cert|status> [options] [--json]
  cacerts  --server URL --ca ROOT.pem [--profile P]
  enroll   --server URL --ca ROOT.pem --bootstrap-cert F --bootstrap-key F --device-id ID [--secret-file F | --secret S] [--dir D] [--key-type T]
  rotate   [--dir D] [--force]
  start    [--dir D]
  app-cert [--dir D] [--profile c2pa]
  status   [--dir D]
  (default --dir: ./pss-device; --secret-file keeps the one-time secret out of the process list)`;

const need = (value: string | undefined, flag: string): string => {
  if (!value) throw new EstError(0, "usage", `missing --${flag}`);
  return value;
};
const read = (file: string | undefined, flag: string) => fs.readFileSync(need(file, flag), "utf8");

const KEY_TYPES: readonly KeyType[] = ["p256", "p384", "ed25519"];

function keyType(value: string | undefined): KeyType {
  const t = (value ?? "p256") as KeyType;
  if (!KEY_TYPES.includes(t)) throw new EstError(0, "usage", `--key-type must be one of ${KEY_TYPES.join(", ")}`);
  return t;
}

/** The one-time enrollment secret: from a file (its first line), or from the command line. */
function secretOf(values: { secret?: string; "secret-file"?: string }): string | undefined {
  if (values.secret !== undefined && values["secret-file"] !== undefined)
    throw new EstError(0, "usage", "give --secret-file or --secret, not both");
  if (values["secret-file"] === undefined) return values.secret || undefined;
  const secret = fs.readFileSync(values["secret-file"], "utf8").split(/\r?\n/)[0].trim();
  if (!secret) throw new EstError(0, "usage", `${values["secret-file"]} holds no secret`);
  return secret;
}

const OPTIONS = {
  server: { type: "string" },
  ca: { type: "string" },
  "bootstrap-cert": { type: "string" },
  "bootstrap-key": { type: "string" },
  "device-id": { type: "string" },
  secret: { type: "string" },
  "secret-file": { type: "string" },
  dir: { type: "string", default: "./pss-device" },
  "key-type": { type: "string" },
  profile: { type: "string" },
  force: { type: "boolean" },
  json: { type: "boolean" },
} as const;

/** The command line; a flag that does not parse is a usage error (exit 2), like every other. */
function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (e) {
    throw new EstError(0, "usage", e instanceof Error ? e.message : String(e));
  }
}

async function run(argv: string[]): Promise<unknown> {
  const { values, positionals } = parse(argv);
  const dir = values.dir ?? "./pss-device";
  switch (positionals[0]) {
    case "cacerts":
      return (await fetchCaCerts({ url: need(values.server, "server"), ca: read(values.ca, "ca") }, values.profile)).join("");
    case "enroll": {
      const secret = secretOf(values);
      const device = await Device.enroll({
        dir,
        url: need(values.server, "server"),
        ca: read(values.ca, "ca"),
        bootstrapCert: read(values["bootstrap-cert"], "bootstrap-cert"),
        bootstrapKey: read(values["bootstrap-key"], "bootstrap-key"),
        deviceId: need(values["device-id"], "device-id"),
        ...(secret ? { secret } : {}),
        keyType: keyType(values["key-type"]),
      });
      return device.status();
    }
    case "rotate": {
      const device = Device.open(dir);
      return { rotated: await device.rotate({ force: values.force === true }), ...device.status() };
    }
    case "start": {
      const device = Device.open(dir);
      return { ...(await device.start()), ...device.status() };
    }
    case "app-cert": {
      const r = await Device.open(dir).applicationCertificate(values.profile ?? "c2pa");
      return { certFile: r.certFile, keyFile: r.keyFile, subject: r.cert.subject, notAfter: new Date(r.cert.validTo).toISOString() };
    }
    case "status":
      return Device.open(dir).status();
    default:
      throw new EstError(0, "usage", USAGE);
  }
}

const json = process.argv.includes("--json");
run(process.argv.slice(2)).then(
  (out) => {
    console.log(json || typeof out !== "string" ? JSON.stringify(out, null, json ? 0 : 2) : out);
    process.exit(0);
  },
  (e) => {
    const code = e instanceof EstError ? e.code : ((e as { code?: string }).code ?? "error");
    const message = e instanceof Error ? e.message : String(e);
    if (json) console.log(JSON.stringify({ error: { code, message } }));
    else console.error(`pss-device: ${message}`);
    process.exit(code === "usage" ? 2 : 1);
  },
);
