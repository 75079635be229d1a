// The CA certificates a manufacturer's device certificate (enrollment groups) came with on its last full TLS
// handshake. A resumed TLS session keeps only the client's own certificate, and the maker's leaf cannot be validated
// without the intermediates it sent then (our own certificates' paths are built from our CA records). The session
// may resume in another process — a device worker, another app process sharing the ticket keys — so the chain is
// kept in the database (SPEC §9: nothing held only in one process's memory may change an answer), with a memo in
// front that saves the reads and the repeated writes.
import { createHash } from "node:crypto";
import { db } from "../../db/client.ts";
import { bytesOf, children, readTlv, sequence } from "../../pki/der.ts";

/** How long the device listener keeps a TLS session resumable (its sessionTimeout). */
export const TLS_SESSION_SECONDS = 3600;

// A stored chain is needed while a session from its handshake can resume; rows older than that are deleted.
const KEEP_MS = 2 * TLS_SESSION_SECONDS * 1000;
// Writing the same chain again only moves seenAt: once in a while is enough to keep it within KEEP_MS.
const REWRITE_MS = 10 * 60_000;
const MEMO_MAX = 20_000;
// Another process may have stored a newer chain for the leaf (a new full handshake there): the memo answers reads for
// a minute, then the database does again.
const MEMO_FRESH_MS = 60_000;
const PRUNE_EVERY = 100;

const memo = new Map<string, { chain: Buffer[]; storedAt: number; readAt: number }>();
let writes = 0;

const leafKey = (leafDer: Uint8Array) => createHash("sha256").update(leafDer).digest("base64url");

function remember(key: string, chain: Buffer[], storedAt: number, readAt: number) {
  memo.delete(key);
  if (memo.size >= MEMO_MAX) memo.delete(memo.keys().next().value as string);
  memo.set(key, { chain, storedAt, readAt });
}

const sameChain = (a: Buffer[], b: Buffer[]) => a.length === b.length && a.every((d, i) => d.equals(b[i]));

/**
 * Keep the chain a leaf came with on a full handshake — called once the chain matched an enrollment group, so
 * chains nobody vouches for are never written. Only the holder of the leaf's key completes a handshake with it.
 */
export async function rememberPresented(leafDer: Uint8Array, chain: Buffer[], now = new Date()): Promise<void> {
  if (!chain.length) return;
  const key = leafKey(leafDer);
  const known = memo.get(key);
  if (known && sameChain(known.chain, chain) && now.getTime() - known.storedAt < REWRITE_MS) return;
  const der = Buffer.from(sequence(...chain));
  await db().presentedChain.upsert({
    where: { leafSha256: key },
    create: { leafSha256: key, chain: der, seenAt: now },
    update: { chain: der, seenAt: now },
  });
  remember(key, chain, now.getTime(), now.getTime());
  if (++writes % PRUNE_EVERY === 0) await db().presentedChain.deleteMany({ where: { seenAt: { lt: new Date(now.getTime() - KEEP_MS) } } });
}

/** The chain this leaf came with on its last full handshake, in any process; none if too old or never seen. */
export async function presentedBefore(leafDer: Uint8Array, now = new Date()): Promise<Buffer[]> {
  const key = leafKey(leafDer);
  const known = memo.get(key);
  if (known && now.getTime() - known.readAt < MEMO_FRESH_MS) return known.chain;
  const row = await db().presentedChain.findUnique({ where: { leafSha256: key } });
  if (!row || now.getTime() - row.seenAt.getTime() > KEEP_MS) return [];
  const der = Buffer.from(row.chain);
  const chain = children(der, readTlv(der, 0)).map((t) => Buffer.from(bytesOf(der, t)));
  remember(key, chain, row.seenAt.getTime(), now.getTime());
  return chain;
}

/** Tests: forget the memo, as another process would not have it. */
export function forgetPresentedMemo(): void {
  memo.clear();
}
