import { issueAndStore } from "../../lib/data/certificates/issue-certificate.ts";
import { showCertificate } from "../../lib/data/certificates/show-certificate.ts";
import { publishAllCrls, publishCrl } from "../../lib/data/revocation/crl.ts";
import { revokeCertificate } from "../../lib/data/revocation/revoke-certificate.ts";
import { customerOfUid } from "../../lib/data/users/customer-of-uid.ts";
import type { RevocationReason } from "../../lib/pki/crl.ts";
import type { LeafProfileId } from "../../lib/pki/profiles.ts";
import { type Command, flags, readFile, required } from "../io.ts";

export const certIssue: Command = {
  name: "cert issue",
  summary: "issue a certificate from a CSR (profiles: bootstrap, client-tls, c2pa, server)",
  usage: "pss cert issue --profile P --csr FILE --uid U [--device-id D] [--dns NAME…] [--ip ADDR…] [--json]",
  needsDb: true,
  async run({ args, json }) {
    const { values } = flags(args, {
      profile: { type: "string" },
      csr: { type: "string" },
      uid: { type: "string" },
      "device-id": { type: "string" },
      dns: { type: "string", multiple: true },
      ip: { type: "string", multiple: true },
    });
    const profile = required(values.profile, "profile") as LeafProfileId;
    const csr = readFile(required(values.csr, "csr"));
    if (profile !== "server") required(values.uid, "uid");
    const customerId = values.uid ? await customerOfUid(values.uid) : undefined;
    const cert = await issueAndStore({
      profile,
      csr,
      customerId,
      uid: values.uid,
      deviceId: values["device-id"],
      dnsNames: values.dns,
      ipAddresses: values.ip,
      authorizedBy: "cli",
      actor: { type: "system", id: "cli" },
    });
    if (!json) return `${cert.pem.trimEnd()}\n${cert.chainPem.join("").trimEnd()}`;
    return {
      serial: cert.serialHex,
      subject: cert.subject,
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      certificate: cert.pem,
      chain: cert.chainPem,
    };
  },
};

export const certRevoke: Command = {
  name: "cert revoke",
  summary: "revoke a certificate by serial (reason: unspecified, keyCompromise, superseded, …)",
  usage: "pss cert revoke <serial> [--reason R] [--json]",
  needsDb: true,
  async run({ args }) {
    const { values, positionals } = flags(args, { reason: { type: "string" } });
    return revokeCertificate({
      serial: required(positionals[0], "serial (positional)"),
      reason: values.reason as RevocationReason | undefined,
      actor: { type: "system", id: "cli" },
    });
  },
};

export const certShow: Command = {
  name: "cert show",
  summary: "show a certificate by serial",
  usage: "pss cert show <serial> [--json]",
  needsDb: true,
  async run({ args }) {
    const { positionals } = flags(args, {});
    return showCertificate(required(positionals[0], "serial (positional)"));
  },
};

export const crlPublish: Command = {
  name: "crl publish",
  summary: "sign and store a fresh CRL for a CA now (--all: every CA)",
  usage: "pss crl publish <ca-id> | --all [--json]",
  needsDb: true,
  async run({ args }) {
    const { values, positionals } = flags(args, { all: { type: "boolean" } });
    if (values.all) return { published: await publishAllCrls() };
    const caId = required(positionals[0], "ca-id (positional)");
    return { published: [{ caId, number: String((await publishCrl(caId)).number) }] };
  },
};
