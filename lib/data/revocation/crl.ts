// CRLs per CA generation (SPEC §6): DER, CRL number from a database sequence, reissued on every revocation
// and at least every 12 h with nextUpdate 24 h later. Retired CAs keep publishing until what they issued expires.
import { bytes, db, type Tx } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { log } from "../../log.ts";
import { buildCrl, type RevocationReason, type RevokedEntry } from "../../pki/crl.ts";
import { keyStore } from "../ca/key-store.ts";

const HOUR = 3_600_000;
export const CRL_REISSUE_AFTER_MS = 12 * HOUR;
export const CRL_VALIDITY_MS = 24 * HOUR;
/**
 * Revocations that come in streams (every 30-day rotation revokes the replaced certificate as superseded) share
 * one CRL per CA per minute: a customer CA's CRL holds up to a year of superseded certificates, megabytes that
 * must not be rebuilt once per rotation. The device API and OCSP see each revocation at once regardless.
 */
export const CRL_COALESCE_MS = 60_000;

/**
 * Everything a CA has revoked, its leaves and its child CAs, less what expired before `keepExpiredSince`. RFC 5280
 * §3.3 lets an entry go once one regularly scheduled CRL issued after the certificate's expiry has carried it:
 * CRLs are reissued at least every 12 h, so an entry kept for 24 h past expiry has been on one. Without this a
 * customer CA's CRL would grow for ever: every 30-day rotation revokes the replaced certificate as superseded.
 */
async function revokedUnder(tx: Tx, caId: string, keepExpiredSince: Date): Promise<RevokedEntry[]> {
  const where = { revokedAt: { not: null }, notAfter: { gt: keepExpiredSince } };
  const select = { serial: true, revokedAt: true, revocationReason: true } as const;
  const [leaves, cas] = await Promise.all([
    tx.certificate.findMany({ where: { issuerId: caId, ...where }, select }),
    tx.certificateAuthority.findMany({ where: { parentId: caId, ...where }, select }),
  ]);
  return [...leaves, ...cas].map((r) => ({
    serialHex: r.serial,
    revokedAt: r.revokedAt!,
    reason: (r.revocationReason ?? undefined) as RevocationReason | undefined,
  }));
}

/** A CRL as stored: its number (also the HTTP ETag), DER and thisUpdate (Last-Modified). */
export interface Published {
  number: bigint;
  der: Buffer;
  thisUpdate: Date;
}

/**
 * How many CRLs of a CA are kept: the new one and the one before it. Only the newest is ever served
 * (/crl/<ca-id>.crl); the one before lets crlUnchangedSince see that two CRLs share a second (thisUpdate rises
 * with the number, so any older CRL in the newest one's second would make the one before it share that second
 * too), and lets a reader that picked it just before a reissue still fetch its bytes. Anything older is dead
 * weight: at one reissue a minute a CA would otherwise keep ~1,440 copies, each up to megabytes.
 */
export const CRLS_KEPT = 2;

/**
 * Sign and store a new CRL for one CA. One CA's CRLs are made one at a time (a transaction-scoped advisory
 * lock), so a higher CRL number never carries an older thisUpdate or fewer entries than a lower one. In the same
 * transaction the CA's older CRLs are deleted, all but CRLS_KEPT, and any whose nextUpdate has passed: no relying
 * party may use those any more.
 * With `unlessFresh`, an existing CRL that `unlessFresh` accepts (read under the lock) is returned instead: many
 * concurrent readers of a stale CRL make one new CRL, not one each.
 */
export async function publishCrl(
  caId: string,
  now = new Date(),
  unlessFresh?: (latest: { thisUpdate: Date }, tx: Tx) => Promise<boolean>,
): Promise<Published> {
  const ca = await db().certificateAuthority.findUnique({ where: { id: caId }, select: { id: true, certDer: true, keyRef: true } });
  if (!ca) throw new AppError("ca_not_found", "No such CA.", 404);
  const signer = await (await keyStore()).signer(ca.keyRef);
  return db().$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`crl:${ca.id}`}, 0))`;
      // without its DER (megabytes for a big CA): read only if it is the answer
      const latest = await tx.crl.findFirst({ where: { caId }, orderBy: { number: "desc" }, select: { number: true, thisUpdate: true } });
      if (latest && unlessFresh && (await unlessFresh(latest, tx))) {
        const { der } = await tx.crl.findUniqueOrThrow({ where: { number: latest.number }, select: { der: true } });
        return { number: latest.number, der: Buffer.from(der), thisUpdate: latest.thisUpdate };
      }
      // never earlier than the CRL before it, whatever the caller's clock said
      const thisUpdate = latest && latest.thisUpdate > now ? latest.thisUpdate : now;
      const nextUpdate = new Date(thisUpdate.getTime() + CRL_VALIDITY_MS);
      const [{ n }] = await tx.$queryRaw<{ n: bigint }[]>`SELECT nextval(pg_get_serial_sequence('"Crl"', 'number')) AS n`;
      const number = BigInt(n);
      const der = await buildCrl({
        issuer: { certDer: ca.certDer, signer },
        number,
        thisUpdate,
        nextUpdate,
        revoked: await revokedUnder(tx, ca.id, new Date(thisUpdate.getTime() - CRL_VALIDITY_MS)),
      });
      await tx.crl.create({ data: { caId: ca.id, number, der: bytes(der), thisUpdate, nextUpdate } });
      // CRLS_KEPT = 2: the new one and `latest`, the newest before it (no other CRL of this CA can appear meanwhile: we
      // hold its lock)
      const older = latest ? [{ number: { lt: latest.number } }] : [];
      await tx.crl.deleteMany({ where: { caId: ca.id, OR: [...older, { nextUpdate: { lte: thisUpdate } }] } });
      return { number, der, thisUpdate };
    },
    { timeout: 60_000, maxWait: 30_000 },
  );
}

/** Which CRL is current, without its bytes: all a conditional GET (ETag = number, Last-Modified = thisUpdate) needs. */
export interface CrlVersion {
  number: bigint;
  thisUpdate: Date;
  /** present when the CRL was just made for this caller */
  der?: Buffer;
}

/**
 * Which CRL of a CA is current: the latest one, or a fresh one when none is younger than 12 h, or when something
 * under the CA was revoked after the latest and that one is over a minute old (the reissue that follows every
 * revocation failed, or a coalesced one is late). A reader can thus trigger at most one CRL per CA per minute.
 * The DER is not read: an unchanged CRL is answered 304 from its number and thisUpdate (see crlBytes).
 */
export async function currentCrlVersion(caId: string, now = new Date()): Promise<CrlVersion> {
  const fresh = async (latest: { thisUpdate: Date }, client: Tx = db()) => {
    const age = now.getTime() - latest.thisUpdate.getTime();
    return age < CRL_REISSUE_AFTER_MS && (age < CRL_COALESCE_MS || !(await revokedSince(client, caId, latest.thisUpdate)));
  };
  const latest = await db().crl.findFirst({ where: { caId }, orderBy: { number: "desc" }, select: { number: true, thisUpdate: true } });
  if (latest && (await fresh(latest))) return latest;
  return publishCrl(caId, now, fresh);
}

/**
 * The bytes of a CRL `currentCrlVersion` chose. Should two reissues have replaced it meanwhile (only CRLS_KEPT are
 * kept), the CA's newest CRL is returned instead: newer is always fine to serve, with its own number and thisUpdate.
 */
export async function crlBytes(caId: string, version: CrlVersion): Promise<Published> {
  if (version.der) return { number: version.number, thisUpdate: version.thisUpdate, der: version.der };
  const select = { number: true, der: true, thisUpdate: true } as const;
  const row =
    (await db().crl.findFirst({ where: { caId, number: version.number }, select })) ??
    (await db().crl.findFirst({ where: { caId }, orderBy: { number: "desc" }, select }));
  if (!row) throw new AppError("crl_not_found", "No CRL for this CA.", 404);
  return { number: row.number, der: Buffer.from(row.der), thisUpdate: row.thisUpdate };
}

/** The current CRL of a CA with its DER (see currentCrlVersion). */
export async function currentCrl(caId: string, now = new Date()): Promise<Published> {
  return crlBytes(caId, await currentCrlVersion(caId, now));
}

/**
 * HTTP If-Modified-Since for a CA's CRL: whether the CRL a client holds, known only by the Last-Modified we sent
 * (`since`: the thisUpdate of its CRL, in whole seconds), is still `current`. Two CRLs made within one second share
 * that value, and the second one is the revocation the client must not miss: in that case this says "changed",
 * only the ETag can tell them apart. CRL thisUpdates rise with their numbers (publishCrl), so no CRL older than
 * `current` lies in a later second.
 */
export async function crlUnchangedSince(caId: string, current: { thisUpdate: Date }, since: Date): Promise<boolean> {
  const second = Math.floor(since.getTime() / 1000) * 1000;
  if (current.thisUpdate.getTime() >= second + 1000) return false;
  const sameSecond = await db().crl.count({ where: { caId, thisUpdate: { gte: new Date(second), lt: new Date(second + 1000) } } });
  return sameSecond <= 1;
}

const pending = new Set<string>();

/**
 * Reissue a CA's CRL a minute from now, once for every revocation this process asks for meanwhile (see
 * CRL_COALESCE_MS). Another process that asked too finds the CRL already current and makes none.
 */
export function scheduleCrlReissue(caId: string, onError: (e: unknown) => void): void {
  if (pending.has(caId)) return;
  pending.add(caId);
  setTimeout(() => {
    pending.delete(caId);
    const current = async (latest: { thisUpdate: Date }, client: Tx) => !(await revokedSince(client, caId, latest.thisUpdate));
    publishCrl(caId, new Date(), current).catch(onError);
  }, CRL_COALESCE_MS).unref();
}

/**
 * After a revocation committed: a fresh CRL from each of these CAs, now. A CA that cannot sign one at this moment
 * (its token, a busy database) neither undoes nor fails the revocation, which is in force already (OCSP and the
 * device authorizer read the database): it is logged and retried within a minute (scheduleCrlReissue), and a
 * reader of the CA's CRL gets a new one once a revocation is newer than it (currentCrlVersion). Telling the caller
 * "failed" would be wrong — a retry would answer already_revoked. Returns the CAs whose CRL was deferred.
 */
export async function publishCrlsAfterRevocation(caIds: Iterable<string>, now: Date): Promise<string[]> {
  const deferred: string[] = [];
  for (const caId of new Set(caIds)) {
    try {
      await publishCrl(caId, now);
    } catch (e) {
      deferred.push(caId);
      log.error({ err: e instanceof Error ? e.message : String(e), caId }, "CRL after a revocation failed: retried within a minute");
      scheduleCrlReissue(caId, (err) => log.error({ err, caId }, "CRL reissue after a revocation failed"));
    }
  }
  return deferred;
}

/** Whether a certificate or child CA of this CA was revoked after `since` (index look-ups). */
async function revokedSince(client: Tx, caId: string, since: Date): Promise<boolean> {
  const [leaf, ca] = await Promise.all([
    client.certificate.findFirst({ where: { issuerId: caId, revokedAt: { gt: since } }, select: { id: true } }),
    client.certificateAuthority.findFirst({ where: { parentId: caId, revokedAt: { gt: since } }, select: { id: true } }),
  ]);
  return leaf !== null || ca !== null;
}

/** The scheduled reissue: every CA that still has unexpired certificates or child CAs and whose CRL is older than 12 h. */
export async function reissueStaleCrls(now = new Date()): Promise<number> {
  const cas = await db().certificateAuthority.findMany({
    where: {
      OR: [
        { status: { not: "RETIRED" } },
        { issued: { some: { notAfter: { gt: now } } } },
        { children: { some: { notAfter: { gt: now } } } },
      ],
    },
    select: { id: true, crls: { orderBy: { number: "desc" }, take: 1, select: { thisUpdate: true } } },
  });
  let published = 0;
  for (const ca of cas) {
    const last = ca.crls[0]?.thisUpdate;
    if (!last || now.getTime() - last.getTime() >= CRL_REISSUE_AFTER_MS) {
      // one CA that cannot sign (its key store unreachable, say) must not leave every later CA's CRL to go stale
      if (await publishOrLog(ca.id, now)) published++;
    }
  }
  return published;
}

async function publishOrLog(caId: string, now: Date): Promise<Published | null> {
  try {
    return await publishCrl(caId, now);
  } catch (err) {
    log.error({ err, caId }, "CRL not published");
    return null;
  }
}

/** `pss crl publish --all`: a fresh CRL for every CA (stops at the first that fails, with its error). */
export async function publishAllCrls(now = new Date()): Promise<{ caId: string; number: string }[]> {
  const cas = await db().certificateAuthority.findMany({ select: { id: true }, orderBy: { createdAt: "asc" } });
  const out: { caId: string; number: string }[] = [];
  for (const ca of cas) out.push({ caId: ca.id, number: String((await publishCrl(ca.id, now)).number) });
  return out;
}
