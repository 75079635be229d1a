import { ensureHierarchy, rotateCa, rotateDueCas } from "../../lib/data/ca/hierarchy.ts";
import { exportCaPem, listCas } from "../../lib/data/ca/list-cas.ts";
import { revokeCa } from "../../lib/data/revocation/revoke-ca.ts";
import type { RevocationReason } from "../../lib/pki/crl.ts";
import { type Command, flags, required } from "../io.ts";

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
  summary: "rotate one CA to a new generation (new key), or --due: every CA that is due",
  usage: "pss ca rotate <ca-id> | --due [--json]",
  needsDb: true,
  async run({ args }) {
    const { values, positionals } = flags(args, { due: { type: "boolean" } });
    if (values.due) return rotateDueCas(cli);
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
