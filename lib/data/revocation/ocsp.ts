// The OCSP responder's data side (SPEC §6): find our CA by the CertID's key hash, answer each serial from the
// database. Retired CAs keep answering for what they issued; a serial never issued is "unknown".
import { db } from "../../db/client.ts";
import { log } from "../../log.ts";
import type { RevocationReason } from "../../pki/crl.ts";
import { type CertStatus, handleOcsp, type OcspCertId, type OcspIssuer, ocspIssuerHashes } from "../../pki/ocsp.ts";
import { keyStore } from "../ca/key-store.ts";

type Issuer = OcspIssuer & { id: string };

async function findIssuer(certId: OcspCertId): Promise<Issuer | null> {
  const where = certId.hashAlgorithm === "sha1" ? { keyHashSha1: certId.issuerKeyHash } : { keyHashSha256: certId.issuerKeyHash };
  const ca = await db().certificateAuthority.findUnique({ where, select: { id: true, certDer: true, keyRef: true } });
  if (!ca) return null;
  if (ocspIssuerHashes(ca.certDer)[certId.hashAlgorithm].issuerNameHash !== certId.issuerNameHash) return null;
  return { id: ca.id, certDer: ca.certDer, signer: await (await keyStore()).signer(ca.keyRef) };
}

/**
 * The statuses of a request's serials (at most OCSP_LIMITS.maxCertIds) under one CA, in one query for its
 * certificates and, only for serials not among them, one for its child CAs: a request costs the same few
 * queries whatever its CertID count. A serial in neither is left out: unknown.
 */
async function statuses(issuer: Issuer, serialHexes: readonly string[]): Promise<Map<string, CertStatus>> {
  const select = { serial: true, revokedAt: true, revocationReason: true } as const;
  const rows = await db().certificate.findMany({ where: { issuerId: issuer.id, serial: { in: [...serialHexes] } }, select });
  const leaves = new Set(rows.map((r) => r.serial));
  const rest = serialHexes.filter((s) => !leaves.has(s));
  if (rest.length > 0)
    rows.push(...(await db().certificateAuthority.findMany({ where: { parentId: issuer.id, serial: { in: rest } }, select })));
  return new Map(
    rows.map((row): [string, CertStatus] => [
      row.serial,
      row.revokedAt
        ? { status: "revoked", revokedAt: row.revokedAt, reason: (row.revocationReason ?? undefined) as RevocationReason | undefined }
        : { status: "good" },
    ]),
  );
}

/** Answer an OCSP request: the POST body, or the GET path segment after /ocsp/. Never throws. */
export function answerOcsp(input: Uint8Array | string, now = new Date()): Promise<Buffer> {
  return handleOcsp<Issuer>(input, {
    findIssuer,
    statuses,
    now,
    onError: (e) => log.error({ err: e instanceof Error ? e.message : String(e) }, "OCSP responder error"),
  });
}
