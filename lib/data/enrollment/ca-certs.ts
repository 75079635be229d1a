// EST /cacerts (RFC 7030 §4.1): the CA certificates a device needs for a path. Without a client certificate:
// the TLS Root CA and the active TLS Intermediate (which also issued the listener's certificate). With one,
// the caller's customer's active issuing CA for the path is added (Customer TLS Issuing CA, or the
// application CA of the profile).
import type { CaKind } from "../../../generated/prisma/client.ts";
import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { APPLICATION_PROFILES, scopeKey } from "../ca/hierarchy.ts";

export async function estCaCerts(input: { profile?: string; customerId?: string | null }): Promise<Buffer[]> {
  if (input.profile !== undefined && !(APPLICATION_PROFILES as readonly string[]).includes(input.profile))
    throw new AppError("profile_unknown", `unknown EST label: ${input.profile}`, 404);
  const active = async (kind: CaKind, customerId?: string, application?: string) => {
    const ca = await db().certificateAuthority.findFirst({
      where: customerId
        ? { scope: scopeKey({ kind, customerId, application: application ?? null }), status: "ACTIVE" }
        : { kind, status: "ACTIVE" },
      orderBy: { generation: "desc" },
      select: { certDer: true },
    });
    return ca ? [Buffer.from(ca.certDer)] : [];
  };
  const out: Buffer[] = [];
  if (input.customerId) {
    out.push(
      ...(input.profile
        ? await active("APPLICATION", input.customerId, input.profile)
        : await active("CUSTOMER_TLS_ISSUING", input.customerId)),
    );
  }
  out.push(...(await active("TLS_INTERMEDIATE")), ...(await active("ROOT")));
  if (!out.length) throw new AppError("ca_not_initialized", "the CA hierarchy is not initialized", 503);
  return out;
}
