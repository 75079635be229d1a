import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { splitDer, toPem } from "../../pki/der.ts";

// CA certificates never change once written, so their chains are cached for the life of the process
// (on globalThis: the custom server and the Next.js bundle load this module separately).
const g = globalThis as unknown as { __pssCaChains?: Map<string, Promise<Buffer[]>> };

/** DER chain of a CA: itself first, the root (ours, or a customer's above an external application CA) last. */
export function caChainDer(caId: string): Promise<Buffer[]> {
  g.__pssCaChains ??= new Map();
  const chains = g.__pssCaChains;
  let chain = chains.get(caId);
  if (!chain) {
    chain = loadChain(caId);
    chains.set(caId, chain);
    chain.catch(() => chains.delete(caId));
  }
  return chain;
}

/** The same chain as PEM. */
export async function chainOf(caId: string): Promise<string[]> {
  return (await caChainDer(caId)).map((der) => toPem("CERTIFICATE", der));
}

/** Up the parents; an application CA under a customer-supplied parent ends with the customer's chain. */
async function loadChain(caId: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let id: string | null = caId;
  while (id) {
    const ca: { certDer: Uint8Array; parentId: string | null; externalChain: Uint8Array | null } | null =
      await db().certificateAuthority.findUnique({
        where: { id },
        select: { certDer: true, parentId: true, externalChain: true },
      });
    if (!ca) throw new AppError("ca_not_found", `CA ${id} is missing from the database`, 500);
    out.push(Buffer.from(ca.certDer));
    if (ca.externalChain) out.push(...splitDer(ca.externalChain));
    id = ca.parentId;
  }
  return out;
}
