import fs from "node:fs";
import { importExternalApplicationCa, listPendingCas, requestExternalApplicationCa } from "../../lib/data/ca/external-ca.ts";
import { ensureHierarchy, rotateCa, rotateDueCas } from "../../lib/data/ca/hierarchy.ts";
import { exportCaPem, listCas } from "../../lib/data/ca/list-cas.ts";
import { revokeCa } from "../../lib/data/revocation/revoke-ca.ts";
import type { RevocationReason } from "../../lib/pki/crl.ts";
import { type Command, flags, PartialResult, readFile, required } from "../io.ts";

const cli = { type: "system", id: "cli" } as const;

export const init: Command = {
  name: "init",
  summary: "create the CA hierarchy (root, bootstrapping and TLS intermediates, bootstrapping issuing CA); idempotent",
  usage: "pss init [--json]",
  needsDb: true,
  async run({ args }) {
    flags(args, {});
    return ensureHierarchy(cli);
  },
};

export const caList: Command = {
  name: "ca list",
  summary: "list every CA generation with its state and rotation status",
  usage: "pss ca list [--customer ID] [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, { customer: { type: "string" } });
    return { cas: await listCas({ customerId: values.customer }) };
  },
};

export const caRotate: Command = {
  name: "ca rotate",
  summary: "rotate one CA to a new generation (new key), or --due: every CA that is due (exit 1 if any of them failed)",
  usage: "pss ca rotate <ca-id> | --due [--json]",
  needsDb: true,
  async run({ args }) {
    const { values, positionals } = flags(args, { due: { type: "boolean" } });
    if (values.due) {
      // the CAs that could not rotate are listed in `failed` (and logged); the others rotated all the same
      const due = await rotateDueCas(cli);
      return due.failed.length ? new PartialResult(due) : due;
    }
    const { retired, active } = await rotateCa(required(positionals[0], "ca-id (positional)"), cli);
    return { retired: { id: retired.id, subject: retired.subject }, active: { id: active.id, subject: active.subject } };
  },
};

export const caExport: Command = {
  name: "ca export",
  summary: "print a CA certificate as PEM (root, bootstrap-intermediate, bootstrap-issuing, tls-intermediate, or a CA id)",
  usage: "pss ca export <root|…|ca-id> [--json]",
  needsDb: true,
  async run({ args, json }) {
    const { positionals } = flags(args, {});
    const pem = await exportCaPem(required(positionals[0], "which CA (positional)"));
    return json ? { pem } : pem.trimEnd();
  },
};

export const caRevoke: Command = {
  name: "ca revoke",
  summary: "revoke a CA and everything it issued; a customer TLS issuing CA is replaced by a new generation",
  usage: "pss ca revoke <ca-id> [--reason R] [--keep-bootstrap] [--json]",
  needsDb: true,
  async run({ args }) {
    const { values, positionals } = flags(args, { reason: { type: "string" }, "keep-bootstrap": { type: "boolean" } });
    return revokeCa({
      caId: required(positionals[0], "ca-id (positional)"),
      reason: values.reason as RevocationReason | undefined,
      revokeBootstrap: !values["keep-bootstrap"],
      actor: cli,
    });
  },
};

export const caExternalCsr: Command = {
  name: "ca external-csr",
  summary: "a customer's application CA under the customer's own CA: new key, CSR for their CA to sign (replaces an older pending one)",
  usage: "pss ca external-csr --customer ID [--profile c2pa] [--out FILE] [--json]",
  needsDb: true,
  async run({ args, json }) {
    const { values } = flags(args, { customer: { type: "string" }, profile: { type: "string" }, out: { type: "string" } });
    const req = await requestExternalApplicationCa({
      customerId: required(values.customer, "customer"),
      application: values.profile ?? "c2pa",
      actor: cli,
    });
    if (values.out) fs.writeFileSync(values.out, req.csrPem);
    return json ? req : `pending ${req.pendingId} (${req.subject})\n${req.csrPem.trimEnd()}`;
  },
};

export const caExternalList: Command = {
  name: "ca external-pending",
  summary: "list application CA requests waiting for the customer's CA to sign them",
  usage: "pss ca external-pending [--customer ID] [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, { customer: { type: "string" } });
    return { pending: await listPendingCas(values.customer) };
  },
};

export const caExternalImport: Command = {
  name: "ca external-import",
  summary: "import the CA certificate the customer's CA signed for a pending request, with their chain up to their root",
  usage: "pss ca external-import <pending-id> --cert FILE [--chain FILE] [--root-sha256 HEX] [--json]",
  needsDb: true,
  async run({ args }) {
    const { values, positionals } = flags(args, { cert: { type: "string" }, chain: { type: "string" }, "root-sha256": { type: "string" } });
    const ca = await importExternalApplicationCa({
      pendingId: required(positionals[0], "pending-id (positional)"),
      certPem: readFile(required(values.cert, "cert"), "the CA certificate").toString("utf8"),
      chainPem: values.chain ? readFile(values.chain, "the chain").toString("utf8") : undefined,
      rootSha256: values["root-sha256"],
      actor: cli,
    });
    return {
      ca: { id: ca.id, subject: ca.subject, generation: ca.generation, notAfter: ca.notAfter.toISOString() },
      customerRootSha256: ca.rootSha256,
    };
  },
};
