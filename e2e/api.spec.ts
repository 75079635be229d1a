// The customer API over real HTTP against the built product: the worked example of docs/API.md (curl +
// openssl + node), and the same flow from TypeScript (token → key → bootstrapping certificate → openssl verify).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { freshClaims, signKeyRegistration, signPayload } from "../lib/api/sign.ts";
import { ecKey } from "../lib/api/testing/keys.ts";
import { E2E_PORT, pss, VIEWER } from "./fixtures.ts";
import { signIn } from "./portal-helpers.ts";

const BASE = `http://localhost:${E2E_PORT}`;

function onboard(label: string) {
  const id = `${label}-${Date.now().toString(36)}`;
  return pss("customer", "create", "--name", `API ${id}`, "--admin-email", `${id}@api.e2e.test`) as {
    customer: { id: string };
    user: { uid: string };
    client: { clientId: string; clientSecret: string };
  };
}

function workedExample(): string {
  const md = fs.readFileSync("docs/API.md", "utf8");
  const m = /<!-- worked-example:start -->\s*```bash\n([\s\S]*?)```\s*<!-- worked-example:end -->/.exec(md);
  if (!m) throw new Error("docs/API.md has no worked example block");
  return m[1];
}

test("the docs/API.md worked example gets a bootstrapping certificate that openssl verifies", async () => {
  const c = onboard("docs");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-worked-example-"));
  try {
    fs.writeFileSync(path.join(dir, "example.sh"), workedExample());
    const out = execFileSync("bash", ["example.sh"], {
      cwd: dir,
      env: { ...process.env, BASE, CLIENT_ID: c.client.clientId, CLIENT_SECRET: c.client.clientSecret },
      encoding: "utf8",
    });
    expect(out).toContain("bootstrap.pem: OK");
    expect(out).toContain(c.user.uid);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("token → key → bootstrapping certificate over HTTP; replay and a foreign serial are refused", async ({ request }) => {
  const a = onboard("ts");
  const b = onboard("other");
  const token = async (c: typeof a) => {
    const r = await request.post("/api/v1/oauth/token", {
      form: { grant_type: "client_credentials", client_id: c.client.clientId, client_secret: c.client.clientSecret },
    });
    expect(r.status()).toBe(200);
    const body = await r.json();
    expect(body.expires_in).toBeLessThanOrEqual(900);
    return { authorization: `Bearer ${body.access_token}` };
  };
  const auth = await token(a);
  const key = ecKey();
  const reg = await request.post("/api/v1/payload-signing-keys", {
    headers: { ...auth, "content-type": "application/jose+json" },
    data: await signKeyRegistration(key, { url: `${BASE}/api/v1/payload-signing-keys` }),
  });
  expect(reg.status()).toBe(201);

  const csr = execFileSync(
    "sh",
    ["-c", "openssl ecparam -name prime256v1 -genkey -noout | openssl req -new -key /dev/stdin -subj /CN=e2e"],
    {
      encoding: "utf8",
    },
  );
  const body = await signPayload(key, { csr, ...freshClaims() }, { url: `${BASE}/api/v1/bootstrap-certificates` });
  const issued = await request.post("/api/v1/bootstrap-certificates", {
    headers: { ...auth, "content-type": "application/jose+json" },
    data: body,
  });
  expect(issued.status()).toBe(201);
  const { certificate, chain, serial } = await issued.json();

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-e2e-api-"));
  try {
    fs.writeFileSync(path.join(dir, "root.pem"), await (await request.get("/ca/root.pem")).text());
    fs.writeFileSync(path.join(dir, "chain.pem"), chain.slice(0, -1).join(""));
    fs.writeFileSync(path.join(dir, "cert.pem"), certificate);
    const verify = execFileSync("openssl", ["verify", "-CAfile", "root.pem", "-untrusted", "chain.pem", "cert.pem"], {
      cwd: dir,
      encoding: "utf8",
    });
    expect(verify).toContain("cert.pem: OK");
    const text = execFileSync("openssl", ["x509", "-in", "cert.pem", "-noout", "-ext", "subjectAltName"], { cwd: dir, encoding: "utf8" });
    expect(text).toContain(a.user.uid);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const replay = await request.post("/api/v1/bootstrap-certificates", {
    headers: { ...auth, "content-type": "application/jose+json" },
    data: body,
  });
  expect(replay.status()).toBe(409);
  expect((await replay.json()).error.code).toBe("nonce_replayed");

  const foreign = await request.get(`/api/v1/certificates/${serial}`, { headers: await token(b) });
  expect(foreign.status()).toBe(404);
  const mine = await request.get(`/api/v1/certificates/${serial}`, { headers: auth });
  expect(mine.status()).toBe(200);

  const noToken = await request.post("/api/v1/bootstrap-certificates", {
    headers: { "content-type": "application/jose+json" },
    data: body,
  });
  expect(noToken.status()).toBe(401);
  const tooBig = await request.post("/api/v1/bootstrap-certificates", {
    headers: { ...auth, "content-type": "application/jose+json" },
    data: "x".repeat(70 * 1024),
  });
  expect(tooBig.status()).toBe(413);
});

test("the OpenAPI description is served and the portal renders it for a signed-in user", async ({ page, request }) => {
  const doc = await (await request.get("/api/v1/openapi.json")).json();
  expect(doc.openapi).toBe("3.1.0");
  expect(doc.components.schemas.BootstrapPayload.properties.csr).toBeTruthy();
  await signIn(page, VIEWER);
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  await page.goto("/api-docs");
  await expect(page.getByRole("heading", { name: "Customer API" })).toBeVisible();
  await expect(page.getByText("POST /api/v1/bootstrap-certificates", { exact: true })).toBeVisible();
  // every operation of the document is listed, whatever its method
  const operations = Object.values(doc.paths as Record<string, Record<string, unknown>>).flatMap((ops) =>
    Object.keys(ops).filter((m) => ["get", "post", "put", "patch", "delete"].includes(m)),
  );
  await expect(page.getByRole("region", { name: "Endpoints" }).getByRole("heading", { level: 2 })).toHaveCount(operations.length);
  await expect(page.getByText("PUT /api/v1/enrollment-policy", { exact: true })).toBeVisible();
});

test("the audit log records the connection's address, never one the client claims in a header", async ({ page, request }) => {
  const tag = Date.now().toString(36);
  const admin = { email: `addr-${tag}@api.e2e.test`, password: `addr-pw-${tag}-1234` };
  const c = pss("customer", "create", "--name", `API addr-${tag}`, "--admin-email", admin.email, "--admin-password", admin.password) as {
    client: { clientId: string };
  };
  // a refused token request is audited with the client's address
  const r = await request.post("/api/v1/oauth/token", {
    headers: { "x-forwarded-for": "203.0.113.66", "x-pss-client-address": "203.0.113.77" },
    form: { grant_type: "client_credentials", client_id: c.client.clientId, client_secret: "not-the-secret" },
  });
  expect(r.status()).toBe(401);
  await signIn(page, admin);
  await page.goto("/audit?action=api.token&outcome=refused");
  const row = page.getByTestId("audit-row").first();
  await expect(row).toContainText(/127\.0\.0\.1|::1/);
  await expect(row).not.toContainText("203.0.113");
});
