// Key pairs on the PKCS#11 token that no key-material row names: made inside a transaction that then failed (a
// refused onboarding), or for a CSR request a newer one replaced. They sign nothing (the key store only uses keys
// its rows name), but they are working keys: `pss hsm prune` lists and destroys them.
import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { type Actor, audit } from "../audit/record.ts";
import { configuredToken, MASTER_KEY_LOCK } from "./key-store.ts";

/** Every CA key ref starts so (hierarchy.ts, external-ca.ts): other objects on a shared token are not ours. */
const KEY_REF_PREFIX = "ca/";

export async function pruneTokenKeys(input: { dryRun: boolean; actor: Actor }): Promise<{ orphans: string[]; destroyed: number }> {
  const token = await configuredToken();
  if (!token) throw new AppError("pkcs11_not_configured", "No PKCS#11 token is configured (PSS_PKCS11_MODULE).", 409);
  return db().$transaction(
    async (tx) => {
      // exclusive: a transaction creating a key holds this lock (shared) from before the key exists on the token
      // until its row is committed, so every key not orphaned has its row by now
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${MASTER_KEY_LOCK}, 0))`;
      const labels = await token.labels(KEY_REF_PREFIX);
      const rows = await tx.keyMaterial.findMany({ where: { ref: { in: labels } }, select: { ref: true } });
      const known = new Set(rows.map((r) => r.ref));
      const orphans = labels.filter((l) => !known.has(l));
      let destroyed = 0;
      if (!input.dryRun) for (const label of orphans) destroyed += await token.destroy(label);
      if (!input.dryRun && orphans.length)
        await audit(tx, input.actor, { action: "pkcs11.prune", target: `token:${token.serial}`, details: { keys: orphans } });
      return { orphans, destroyed };
    },
    { timeout: 120_000 },
  );
}
