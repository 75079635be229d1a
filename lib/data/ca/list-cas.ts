import type { CaKind } from "../../../generated/prisma/client.ts";
import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { toPem } from "../../pki/der.ts";
import { isUuid } from "../../validations/common.ts";
import { activeParentEnds, rotationDue } from "./hierarchy.ts";

export type CaSummary = {
  id: string;
  kind: string;
  application: string | null;
  customerId: string | null;
  generation: number;
  subject: string;
  status: string;
  parentId: string | null;
  /** an application CA whose parent is the customer's own CA (SPEC §2): only their CA can make its next generation */
  externalParent: boolean;
  serial: string;
  notBefore: string;
  notAfter: string;
  keyAgeDays: number;
  /** where the CA's private key lives: sealed under the master key, or on the PKCS#11 token */
  keyStore: "software" | "pkcs11";
  rotationDue: string | null;
};

/** Every CA generation (optionally one customer's), parents first. */
export async function listCas(opts: { customerId?: string } = {}, now = new Date()): Promise<CaSummary[]> {
  const rows = await db().certificateAuthority.findMany({
    where: opts.customerId ? { customerId: opts.customerId } : {},
    orderBy: [{ createdAt: "asc" }],
    omit: { certDer: true, externalChain: true },
  });
  // the end of the issuer a new generation would get, which decides whether a rotation would give more life
  const parentEnd = await activeParentEnds();
  const keys = await db().keyMaterial.findMany({ where: { ref: { in: rows.map((ca) => ca.keyRef) } }, select: { ref: true, store: true } });
  const storeOf = new Map(keys.map((k) => [k.ref, k.store === "pkcs11" ? ("pkcs11" as const) : ("software" as const)]));
  return rows.map((ca) => ({
    id: ca.id,
    kind: ca.kind,
    application: ca.profile,
    customerId: ca.customerId,
    generation: ca.generation,
    subject: ca.subject,
    status: ca.status,
    parentId: ca.parentId,
    externalParent: ca.kind !== "ROOT" && ca.parentId === null,
    serial: ca.serial,
    notBefore: ca.notBefore.toISOString(),
    notAfter: ca.notAfter.toISOString(),
    keyAgeDays: Math.floor((now.getTime() - ca.createdAt.getTime()) / 86_400_000),
    keyStore: storeOf.get(ca.keyRef) ?? "software",
    rotationDue: ca.status === "ACTIVE" ? rotationDue(ca, now, parentEnd.get(ca.kind)) : null,
  }));
}

/** A CA certificate as PEM: "root", a kind's active generation ("tls-intermediate"), or a CA id. */
export async function exportCaPem(which: string): Promise<string> {
  const kind = SYSTEM_KIND[which.toLowerCase()];
  const ca = kind
    ? await db().certificateAuthority.findFirst({
        where: { kind, status: "ACTIVE" },
        orderBy: { generation: "desc" },
        select: { certDer: true },
      })
    : isUuid(which)
      ? await db().certificateAuthority.findUnique({ where: { id: which }, select: { certDer: true } })
      : null;
  if (!ca)
    throw new AppError(
      "ca_not_found",
      `no such CA: ${which} (use root, bootstrap-intermediate, bootstrap-issuing, tls-intermediate or a CA id)`,
      404,
    );
  return toPem("CERTIFICATE", ca.certDer);
}

const SYSTEM_KIND: Record<string, CaKind> = {
  root: "ROOT",
  "bootstrap-intermediate": "BOOTSTRAP_INTERMEDIATE",
  "bootstrap-issuing": "BOOTSTRAP_ISSUING",
  "tls-intermediate": "TLS_INTERMEDIATE",
};
