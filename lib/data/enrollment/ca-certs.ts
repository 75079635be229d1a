// EST /cacerts (RFC 7030 §4.1): the CA certificates a device needs for a path. Without a client certificate:
// the TLS Root CA and the active TLS Intermediate (which also issued the listener's certificate). With one,
// the caller's customer's active issuing CA for the path is added (Customer TLS Issuing CA, or the
// application CA of the profile; under a customer-supplied parent, followed by the customer's chain).
import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { splitDer } from "../../pki/der.ts";
import { APPLICATION_PROFILES, type CaScope, scopeKey } from "../ca/hierarchy.ts";

export async function estCaCerts(input: { profile?: string; customerId?: string | null }): Promise<Buffer[]> {
  if (input.profile !== undefined && !(APPLICATION_PROFILES as readonly string[]).includes(input.profile))
    throw new AppError("profile_unknown", `unknown EST label: ${input.profile}`, 404);
  // leaf-most first: the customer's issuing CA (if any), the TLS Intermediate, the root
  const scopes: CaScope[] = [{ kind: "TLS_INTERMEDIATE" }, { kind: "ROOT" }];
  if (input.customerId)
    scopes.unshift(
      input.profile
        ? { kind: "APPLICATION", customerId: input.customerId, application: input.profile }
        : { kind: "CUSTOMER_TLS_ISSUING", customerId: input.customerId },
    );
  const keys = scopes.map(scopeKey);
  // one statement for every scope; the newest active generation of each
  const rows = await db().certificateAuthority.findMany({
    where: { scope: { in: keys }, status: "ACTIVE" },
    orderBy: { generation: "desc" },
    select: { scope: true, certDer: true, externalChain: true },
  });
  const out = keys.flatMap((k) => {
    const row = rows.find((r) => r.scope === k);
    // an application CA under a customer-supplied parent: the customer's chain follows it; our TLS Intermediate and
    // root stay in the answer, since EST clients take it as the anchors of the server they talk to (RFC 7030 §4.1.3)
    return row ? [Buffer.from(row.certDer), ...(row.externalChain ? splitDer(row.externalChain) : [])] : [];
  });
  if (!out.length) throw new AppError("ca_not_initialized", "the CA hierarchy is not initialized", 503);
  return out;
}
