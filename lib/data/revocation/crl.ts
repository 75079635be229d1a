// CRLs per CA generation (SPEC §6): DER, CRL number from a database sequence, reissued on every revocation
// and at least every 12 h with nextUpdate 24 h later. Retired CAs keep publishing until what they issued expires.
import { bytes, db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { buildCrl, type RevocationReason, type RevokedEntry } from "../../pki/crl.ts";
import { keyStore } from "../ca/key-store.ts";

const HOUR = 3_600_000;
export const CRL_REISSUE_AFTER_MS = 12 * HOUR;
export const CRL_VALIDITY_MS = 24 * HOUR;

/** Everything a CA has revoked: its leaves and its child CAs. */
async function revokedUnder(caId: string): Promise<RevokedEntry[]> {
  const [leaves, cas] = await Promise.all([
    db().certificate.findMany({
      where: { issuerId: caId, revokedAt: { not: null } },
      select: { serial: true, revokedAt: true, revocationReason: true },
    }),
    db().certificateAuthority.findMany({
      where: { parentId: caId, revokedAt: { not: null } },
      select: { serial: true, revokedAt: true, revocationReason: true },
    }),
  ]);
  return [...leaves, ...cas].map((r) => ({
    serialHex: r.serial,
    revokedAt: r.revokedAt!,
    reason: (r.revocationReason ?? undefined) as RevocationReason | undefined,
  }));
}

/** Sign and store a new CRL for one CA now. */
export async function publishCrl(caId: string, now = new Date()): Promise<{ number: bigint; der: Buffer }> {
  const ca = await db().certificateAuthority.findUnique({ where: { id: caId }, select: { id: true, certDer: true, keyRef: true } });
  if (!ca) throw new AppError("ca_not_found", "No such CA.", 404);
  const [{ n }] = await db().$queryRaw<{ n: bigint }[]>`SELECT nextval(pg_get_serial_sequence('"Crl"', 'number')) AS n`;
  const der = await buildCrl({
    issuer: { certDer: ca.certDer, signer: await (await keyStore()).signer(ca.keyRef) },
    number: BigInt(n),
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + CRL_VALIDITY_MS),
    revoked: await revokedUnder(ca.id),
  });
  await db().crl.create({
    data: { caId: ca.id, number: BigInt(n), der: bytes(der), thisUpdate: now, nextUpdate: new Date(now.getTime() + CRL_VALIDITY_MS) },
  });
  return { number: BigInt(n), der };
}

/**
 * The current CRL of a CA: the latest one, or a fresh one when none is younger than 12 h or when something
 * under the CA was revoked after it (the reissue that follows every revocation failed or has not run yet).
 */
export async function currentCrl(caId: string, now = new Date()): Promise<Buffer> {
  const latest = await db().crl.findFirst({ where: { caId }, orderBy: { number: "desc" }, select: { der: true, thisUpdate: true } });
  if (latest && now.getTime() - latest.thisUpdate.getTime() < CRL_REISSUE_AFTER_MS && !(await revokedSince(caId, latest.thisUpdate)))
    return Buffer.from(latest.der);
  return (await publishCrl(caId, now)).der;
}

/** Whether a certificate or child CA of this CA was revoked after `since` (index look-ups). */
async function revokedSince(caId: string, since: Date): Promise<boolean> {
  const [leaf, ca] = await Promise.all([
    db().certificate.findFirst({ where: { issuerId: caId, revokedAt: { gt: since } }, select: { id: true } }),
    db().certificateAuthority.findFirst({ where: { parentId: caId, revokedAt: { gt: since } }, select: { id: true } }),
  ]);
  return leaf !== null || ca !== null;
}

/** The scheduled reissue: every CA that still has unexpired certificates and whose CRL is older than 12 h. */
export async function reissueStaleCrls(now = new Date()): Promise<number> {
  const cas = await db().certificateAuthority.findMany({
    where: { OR: [{ status: { not: "RETIRED" } }, { issued: { some: { notAfter: { gt: now } } } }] },
    select: { id: true, crls: { orderBy: { number: "desc" }, take: 1, select: { thisUpdate: true } } },
  });
  let published = 0;
  for (const ca of cas) {
    const last = ca.crls[0]?.thisUpdate;
    if (!last || now.getTime() - last.getTime() >= CRL_REISSUE_AFTER_MS) {
      await publishCrl(ca.id, now);
      published++;
    }
  }
  return published;
}

/** `pss crl publish --all`: a fresh CRL for every CA. */
export async function publishAllCrls(now = new Date()): Promise<{ caId: string; number: string }[]> {
  const cas = await db().certificateAuthority.findMany({ select: { id: true }, orderBy: { createdAt: "asc" } });
  const out: { caId: string; number: string }[] = [];
  for (const ca of cas) out.push({ caId: ca.id, number: String((await publishCrl(ca.id, now)).number) });
  return out;
}
