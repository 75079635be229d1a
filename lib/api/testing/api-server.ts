// Tests only: the customer API's route handlers behind a plain Node HTTP server, so integration tests (and the
// `pss factory` CLI) talk real HTTP to the same handlers Next.js serves — without building the app.
import type { KeyObject } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import * as bootstrapPolicyRoute from "../../../app/api/v1/bootstrap-certificates/[serial]/policy/route.ts";
import * as bootstrapReleaseRoute from "../../../app/api/v1/bootstrap-certificates/[serial]/release/route.ts";
import * as bootstrapRevokeRoute from "../../../app/api/v1/bootstrap-certificates/[serial]/revoke/route.ts";
import * as bootstrapRoute from "../../../app/api/v1/bootstrap-certificates/route.ts";
import * as certRevokeRoute from "../../../app/api/v1/certificates/[serial]/revoke/route.ts";
import * as certRoute from "../../../app/api/v1/certificates/[serial]/route.ts";
import * as deviceResetRoute from "../../../app/api/v1/devices/[deviceId]/reset/route.ts";
import * as deviceSecretRoute from "../../../app/api/v1/devices/[deviceId]/secret/route.ts";
import * as devicesRoute from "../../../app/api/v1/devices/route.ts";
import * as policyRoute from "../../../app/api/v1/enrollment-policy/route.ts";
import * as batchRoute from "../../../app/api/v1/manufacturing/client-tls-certificates/route.ts";
import * as tokenRoute from "../../../app/api/v1/oauth/token/route.ts";
import * as openapiRoute from "../../../app/api/v1/openapi.json/route.ts";
import * as keyRoute from "../../../app/api/v1/payload-signing-keys/[kid]/route.ts";
import * as keysRoute from "../../../app/api/v1/payload-signing-keys/route.ts";
import { createCustomer } from "../../data/customers/create-customer.ts";
import { env } from "../../env.ts";
import { createCsr } from "../../pki/csr.ts";
import { toPem } from "../../pki/der.ts";
import { newPrivateKey } from "../../pki/keygen.ts";
import { OID_CN, OID_SERIAL_NUMBER } from "../../pki/names.ts";
import { type PayloadKey, signKeyRegistration } from "../sign.ts";
import { ecKey } from "./keys.ts";

type Handler = (req: Request, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;
type RouteModule = Partial<Record<"GET" | "POST" | "PUT" | "DELETE", unknown>>;

const ROUTES: [RegExp, RouteModule, string[]][] = [
  [/^\/api\/v1\/oauth\/token$/, tokenRoute, []],
  [/^\/api\/v1\/payload-signing-keys$/, keysRoute, []],
  [/^\/api\/v1\/payload-signing-keys\/([^/]+)$/, keyRoute, ["kid"]],
  [/^\/api\/v1\/bootstrap-certificates$/, bootstrapRoute, []],
  [/^\/api\/v1\/bootstrap-certificates\/([^/]+)\/revoke$/, bootstrapRevokeRoute, ["serial"]],
  [/^\/api\/v1\/bootstrap-certificates\/([^/]+)\/policy$/, bootstrapPolicyRoute, ["serial"]],
  [/^\/api\/v1\/bootstrap-certificates\/([^/]+)\/release$/, bootstrapReleaseRoute, ["serial"]],
  [/^\/api\/v1\/enrollment-policy$/, policyRoute, []],
  [/^\/api\/v1\/manufacturing\/client-tls-certificates$/, batchRoute, []],
  [/^\/api\/v1\/devices$/, devicesRoute, []],
  [/^\/api\/v1\/devices\/([^/]+)\/reset$/, deviceResetRoute, ["deviceId"]],
  [/^\/api\/v1\/devices\/([^/]+)\/secret$/, deviceSecretRoute, ["deviceId"]],
  [/^\/api\/v1\/certificates\/([^/]+)$/, certRoute, ["serial"]],
  [/^\/api\/v1\/certificates\/([^/]+)\/revoke$/, certRevokeRoute, ["serial"]],
  [/^\/api\/v1\/openapi\.json$/, openapiRoute, []],
];

export type ApiServer = { url: string; close(): Promise<void> };

export async function startApiServer(): Promise<ApiServer> {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const route = ROUTES.find(([re]) => re.test(url.pathname));
    const handler = route?.[1][req.method as "GET"] as Handler | undefined;
    if (!route || !handler) {
      res.writeHead(route ? 405 : 404).end();
      return;
    }
    const m = route[0].exec(url.pathname)!;
    const params = Object.fromEntries(route[2].map((name, i) => [name, decodeURIComponent(m[i + 1])]));
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(url, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: "half" } : {}),
    } as RequestInit);
    const response = await handler(request, { params: Promise.resolve(params) });
    res.shouldKeepAlive = res.shouldKeepAlive && response.headers.get("connection") !== "close";
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The URL a signed payload's `url` header must name (PSS_PUBLIC_URL + path). */
export const publicUrl = (path: string) => `${env().publicUrl}${path}`;

export { ecKey };

export function csrPem(key: KeyObject = newPrivateKey(), deviceId?: string): string {
  const subject = deviceId
    ? [
        { oid: OID_CN, value: deviceId, encoding: "utf8" as const },
        { oid: OID_SERIAL_NUMBER, value: deviceId, encoding: "printable" as const },
      ]
    : [{ oid: OID_CN, value: "factory-line-1", encoding: "utf8" as const }];
  return toPem("CERTIFICATE REQUEST", createCsr({ key, subject }));
}

export type TestTenant = {
  customerId: string;
  uid: string;
  clientId: string;
  clientSecret: string;
  token: string;
  key: PayloadKey;
  kid: string;
};

/** A fresh customer with its admin's client, a token and one registered payload-signing key. */
export async function tenant(api: ApiServer, name: string): Promise<TestTenant> {
  const c = await createCustomer(
    { name, adminEmail: `${name.replace(/\W+/g, "-").toLowerCase()}@example.test`, adminPassword: "a-long-password-1" },
    { type: "system", id: "test" },
  );
  const token = await getToken(api, c.client.clientId, c.client.clientSecret);
  const key = ecKey();
  const res = await fetch(`${api.url}/api/v1/payload-signing-keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/jose+json" },
    body: await signKeyRegistration(key),
  });
  if (res.status !== 201) throw new Error(`key registration failed: ${res.status} ${await res.text()}`);
  const { kid } = (await res.json()) as { kid: string };
  return { customerId: c.customer.id, uid: c.user.uid, clientId: c.client.clientId, clientSecret: c.client.clientSecret, token, key, kid };
}

export async function getToken(api: ApiServer, clientId: string, secret: string): Promise<string> {
  const res = await fetch(`${api.url}/api/v1/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret }),
  });
  if (res.status !== 200) throw new Error(`token failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}
