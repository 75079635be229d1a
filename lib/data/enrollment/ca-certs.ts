// EST /cacerts (RFC 7030 §4.1): the CA certificates a device needs for a path. Without a client certificate:
// the TLS Root CA and the active TLS Intermediate (which also issues the listener's certificate). With one,
// the caller's customer's active issuing CA for the path is added with the chain above it (Customer TLS Issuing
// CA, or the application CA of the profile; under a customer-supplied parent, the customer's chain).
import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { caChainDer } from "../ca/chain.ts";
import { APPLICATION_PROFILES, type CaScope, scopeKey } from "../ca/hierarchy.ts";

export async function estCaCerts(input: { profile?: string; customerId?: string | null }): Promise<Buffer[]> {
  if (input.profile !== undefined && !(APPLICATION_PROFILES as readonly string[]).includes(input.profile))
    throw new AppError("profile_unknown", `unknown EST label: ${input.profile}`, 404);
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
    select: { id: true, scope: true, certDer: true },
  });
  const active = keys.map((k) => rows.find((r) => r.scope === k));
  const [intermediate, root] = active.slice(-2).map((r) => (r ? [Buffer.from(r.certDer)] : []));
  const customerCa = input.customerId ? active[0] : undefined;
  // The customer's CA with the chain it was issued under, which after a rotation of the TLS Intermediate is an
  // older generation than the active one (or, under a customer-supplied parent, the customer's chain and root).
  // Our active TLS Intermediate and root follow: EST clients take them as the anchors of the server they talk
  // to (RFC 7030 §4.1.3), whose certificate the active intermediate issues. Leaf-most first, each once.
  const chain = customerCa ? (await caChainDer(customerCa.id)).filter((c) => !root.some((r) => r.equals(c))) : [];
  const out: Buffer[] = [];
  for (const c of [...chain, ...intermediate, ...root]) if (!out.some((o) => o.equals(c))) out.push(c);
  if (!out.length) throw new AppError("ca_not_initialized", "the CA hierarchy is not initialized", 503);
  return out;
}
