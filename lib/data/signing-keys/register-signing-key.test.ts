// The portal's re-authentication stands in for an existing key's co-signature (SPEC §4) — and nothing else does.
import { beforeAll, describe, expect, it } from "vitest";
import { testDb, unique } from "../../../tests/db.ts";
import { signKeyRegistration } from "../../api/sign.ts";
import { ecKey } from "../../api/testing/keys.ts";
import type { ApiCaller } from "../api/access-token.ts";
import { ensureHierarchy } from "../ca/hierarchy.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { registerSigningKey } from "./register-signing-key.ts";

const db = testDb();
let caller: ApiCaller;
const url = "http://localhost/keys";

beforeAll(async () => {
  await ensureHierarchy({ type: "system", id: "test" });
  const c = await createCustomer(
    { name: unique("Reauth Co").replace(/-/g, " "), adminEmail: `${unique("a")}@reauth.test`, adminPassword: "reauth-password-123" },
    { type: "system", id: "test" },
  );
  const user = await db.user.findUniqueOrThrow({ where: { uid: c.user.uid }, select: { id: true } });
  caller = {
    clientId: `portal:${c.user.uid}`,
    customerId: c.customer.id,
    user: { id: user.id, uid: c.user.uid, role: "CUSTOMER_ADMIN" },
    actor: { type: "user", id: user.id, customerId: c.customer.id },
  };
});

describe("registerSigningKey with reauthenticated", () => {
  it("a further key: refused without a co-signature, accepted after portal re-authentication (audited as such)", async () => {
    await registerSigningKey({ caller, body: await signKeyRegistration(ecKey()), url });
    await expect(registerSigningKey({ caller, body: await signKeyRegistration(ecKey()), url })).rejects.toMatchObject({
      code: "key_authorization_required",
    });
    await expect(
      registerSigningKey({ caller, body: await signKeyRegistration(ecKey()), url, reauthenticated: false }),
    ).rejects.toMatchObject({ code: "key_authorization_required" });
    const key = await registerSigningKey({ caller, body: await signKeyRegistration(ecKey()), url, reauthenticated: true });
    const event = await db.auditEvent.findFirstOrThrow({
      where: { action: "signing_key.register", target: `signing_key:${key.kid}`, outcome: "success" },
    });
    expect((event.details as { authorizedBy: string }).authorizedBy).toBe("portal re-authentication");
    expect(await db.payloadSigningKey.count({ where: { userId: caller.user.id, disabledAt: null } })).toBe(2);
  });
});
