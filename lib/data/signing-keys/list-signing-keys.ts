import { db } from "../../db/client.ts";
import type { JwsAlgorithm } from "../../validations/api.ts";
import type { ApiCaller } from "../api/access-token.ts";

/** The calling user's payload-signing keys, newest first (disabled ones too, marked). */
export async function listSigningKeys(caller: Pick<ApiCaller, "user" | "customerId">) {
  const keys = await db().payloadSigningKey.findMany({
    where: { userId: caller.user.id, customerId: caller.customerId },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    select: { kid: true, alg: true, jwk: true, createdAt: true, disabledAt: true },
  });
  return {
    keys: keys.map((k) => ({
      kid: k.kid,
      alg: k.alg as JwsAlgorithm,
      jwk: k.jwk as Record<string, unknown>,
      createdAt: k.createdAt.toISOString(),
      disabledAt: k.disabledAt?.toISOString() ?? null,
    })),
  };
}
