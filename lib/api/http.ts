// HTTP plumbing of the customer API route handlers (app/api/v1): bounded body reading, the error envelope
// {"error": {"code", "message"}} (SPEC §4), and the endpoint URL a signed payload's `url` header must name.
import { ZodError, type z } from "zod";
import { authenticatedCaller } from "../data/api/access-token.ts";
import { clientKey, RateLimitedError } from "../data/api/rate-limit.ts";
import { auditRefusalOnce, isAudited } from "../data/audit/record.ts";
import { env } from "../env.ts";
import { AppError, GENERIC_ERROR_MESSAGE, isAppError, isDataException } from "../errors.ts";
import { log } from "../log.ts";
import { API_LIMITS } from "../validations/api.ts";

const NO_STORE = { "cache-control": "no-store" };

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return Response.json(body, { status, headers: { ...NO_STORE, ...headers } });
}

/** The error envelope for anything a handler throws; unexpected errors are logged and answered generically. */
export function errorResponse(e: unknown): Response {
  if (e instanceof RateLimitedError)
    return json({ error: { code: e.code, message: e.message } }, 429, { "retry-after": String(e.retryAfterSeconds) });
  if (isAppError(e)) {
    const headers: Record<string, string> = e.status === 401 ? { "www-authenticate": `Bearer error="${e.code}"` } : {};
    // the rest of an oversized body was never read: do not reuse the connection
    if (e.status === 413) headers.connection = "close";
    return json({ error: { code: e.code, message: e.message } }, e.status, headers);
  }
  if (e instanceof ZodError) {
    const issue = e.issues[0];
    return json({ error: { code: "invalid_request", message: `${issue.path.join(".") || "request"}: ${issue.message}` } }, 400);
  }
  // a value the database refused that validation should have caught: the request's fault, not the server's, but
  // logged so the missing check gets added
  if (isDataException(e)) {
    log.warn({ err: e }, "customer API request refused by the database (data exception)");
    return json({ error: { code: "invalid_request", message: "the request holds a value that is not valid here" } }, 400);
  }
  log.error({ err: e }, "customer API request failed");
  return json({ error: { code: "internal_error", message: GENERIC_ERROR_MESSAGE } }, 500);
}

type Handler<P> = (req: Request, params: P) => Promise<Response>;

/** Wrap a route handler: its params resolved, every throw turned into the error envelope (and audited, below). */
export function apiRoute<P = Record<string, never>>(handler: Handler<P>) {
  return async (req: Request, ctx: { params: Promise<P> }): Promise<Response> => {
    try {
      return await handler(req, await ctx.params);
    } catch (e) {
      await auditApiRefusal(req, e);
      return errorResponse(e);
    }
  };
}

/**
 * SPEC §7: the security-relevant refusals — no or a bad token (401), no right to it (403), another customer's
 * object or none (404: the two answer alike, and are audited alike), a caller over its rate limit (429: a runaway
 * script or a leaked token) — are in the audit log, once per caller, code and minute (the rest counted): no prober
 * can flood it. A use case that audits its own refusals is left be.
 */
async function auditApiRefusal(req: Request, e: unknown): Promise<void> {
  if (!isAppError(e) || ![401, 403, 404, 429].includes(e.status) || isAudited(e)) return;
  const caller = authenticatedCaller(req);
  const ip = clientIp(req);
  await auditRefusalOnce(
    // an unauthenticated caller by address, IPv6 by its /64: a prefix of addresses is one caller
    `api:${caller ? caller.clientId : `ip:${clientKey(ip ?? null, 48)}`}:${e.code}`,
    caller?.actor ?? { type: "client", id: "unauthenticated", customerId: "" },
    {
      action: "api.request",
      customerId: caller?.customerId ?? null,
      target: `${req.method} ${new URL(req.url).pathname}`.slice(0, 300),
      details: { code: e.code, status: e.status },
      ...(ip ? { ip } : {}),
    },
  );
}

const tooLarge = (limit: number) => new AppError("body_too_large", `the request body may be at most ${limit} bytes`, 413);

/** The request body as bytes, read no further than `limit` (413 body_too_large beyond it). */
export async function readBytes(req: Request, limit: number): Promise<Buffer> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  if (!req.body) return Buffer.alloc(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** The body as text, refusing more than `limit` bytes without buffering them (Content-Length or streamed). */
export async function readBody(req: Request, limit: number = API_LIMITS.bodyBytes): Promise<string> {
  const body = await readBytes(req, limit);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    throw new AppError("invalid_request", "the request body is not UTF-8", 400);
  }
}

/** A JSON body validated by a zod schema (an empty body counts as {}). */
export async function readJson<S extends z.ZodType>(req: Request, schema: S, limit?: number): Promise<z.output<S>> {
  const text = await readBody(req, limit);
  let value: unknown = {};
  if (text.trim() !== "") {
    try {
      value = JSON.parse(text);
    } catch {
      throw new AppError("invalid_request", "the request body is not valid JSON", 400);
    }
  }
  return schema.parse(value);
}

/**
 * The URLs a signed payload's `url` header may name for this endpoint: PSS_PUBLIC_URL + path, and the URL the
 * request was actually sent to (a client that reached us at another address). The path is what stops a
 * payload signed for one endpoint from being replayed at another.
 */
export function endpointUrls(req: Request, path: string): string[] {
  const urls = [`${env().publicUrl}${path}`];
  const host = req.headers.get("host");
  if (host) urls.push(`${new URL(req.url).protocol}//${host}${path}`);
  return urls;
}

/**
 * The header carrying the client's address to the route handlers: set by the portal's web server from the socket
 * (and, behind TRUST_PROXY_HOPS proxies, from X-Forwarded-For) — server/web-request.ts — replacing whatever the
 * client sent under that name.
 */
export const CLIENT_ADDRESS_HEADER = "x-pss-client-address";

/** The client address for audit records; undefined when not served by the product's web server. */
export function clientIp(req: Request): string | undefined {
  return req.headers.get(CLIENT_ADDRESS_HEADER) || undefined;
}
