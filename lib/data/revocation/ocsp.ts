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

async function status(issuer: Issuer, serialHex: string): Promise<CertStatus> {
  const select = { revokedAt: true, revocationReason: true } as const;
  const row =
    (await db().certificate.findFirst({ where: { issuerId: issuer.id, serial: serialHex }, select })) ??
    (await db().certificateAuthority.findFirst({ where: { parentId: issuer.id, serial: serialHex }, select }));
  if (!row) return { status: "unknown" };
  if (!row.revokedAt) return { status: "good" };
  return { status: "revoked", revokedAt: row.revokedAt, reason: (row.revocationReason ?? undefined) as RevocationReason | undefined };
}

/** Answer an OCSP request: the POST body, or the GET path segment after /ocsp/. Never throws. */
export function answerOcsp(input: Uint8Array | string, now = new Date()): Promise<Buffer> {
  return handleOcsp<Issuer>(input, {
    findIssuer,
    status,
    now,
    onError: (e) => log.error({ err: e instanceof Error ? e.message : String(e) }, "OCSP responder error"),
  });
}
