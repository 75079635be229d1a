import { clientIp, errorResponse, json, readBody } from "@/lib/api/http.ts";
import { isOAuthError, issueAccessToken } from "@/lib/data/api/access-token.ts";
import { RateLimitedError } from "@/lib/data/api/rate-limit.ts";
import { tokenRequestSchema } from "@/lib/validations/api.ts";

export const dynamic = "force-dynamic";

const BASIC_SCHEMA = tokenRequestSchema.pick({ client_id: true, client_secret: true });

const oauthError = (error: string, description: string, status: number, headers: Record<string, string> = {}) =>
  json({ error, error_description: description }, status, { pragma: "no-cache", ...headers });

/** HTTP Basic credentials (RFC 6749 §2.3.1: each part form-urlencoded), or null. */
function basic(header: string | null): { id: string; secret: string } | null {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header?.trim() ?? "");
  if (!m) return null;
  const text = Buffer.from(m[1], "base64").toString("utf8");
  const i = text.indexOf(":");
  if (i < 0) return null;
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, " "));
    } catch {
      return s;
    }
  };
  return { id: decode(text.slice(0, i)), secret: decode(text.slice(i + 1)) };
}

// POST /api/v1/oauth/token — OAuth 2.0 client credentials (RFC 6749 §4.4), errors per §5.2.
export async function POST(req: Request) {
  const usedBasic = /^basic /i.test(req.headers.get("authorization") ?? "");
  try {
    const type = req.headers.get("content-type") ?? "";
    if (!type.toLowerCase().startsWith("application/x-www-form-urlencoded"))
      return oauthError("invalid_request", "the body must be application/x-www-form-urlencoded", 400);
    const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
    const parsed = tokenRequestSchema.safeParse(form);
    if (!parsed.success) return oauthError("invalid_request", parsed.error.issues[0].message, 400);
    const creds = basic(req.headers.get("authorization"));
    if (usedBasic && !creds)
      return oauthError("invalid_client", "malformed Basic credentials", 401, { "www-authenticate": 'Basic realm="pss"' });
    if (creds && (parsed.data.client_id !== undefined || parsed.data.client_secret !== undefined))
      return oauthError("invalid_request", "use one client authentication method", 400);
    // credentials sent with HTTP Basic are held to the form's rules (a NUL would fail the client's look-up)
    const basicChecked = creds && BASIC_SCHEMA.safeParse({ client_id: creds.id, client_secret: creds.secret });
    if (basicChecked && !basicChecked.success) return oauthError("invalid_request", basicChecked.error.issues[0].message, 400);
    const token = await issueAccessToken({
      grantType: parsed.data.grant_type,
      clientId: creds?.id ?? parsed.data.client_id,
      clientSecret: creds?.secret ?? parsed.data.client_secret,
      ip: clientIp(req),
    });
    return json(token, 200, { pragma: "no-cache" });
  } catch (e) {
    if (e instanceof RateLimitedError) return oauthError("rate_limited", e.message, 429, { "retry-after": String(e.retryAfterSeconds) });
    if (isOAuthError(e))
      return oauthError(e.code, e.message, e.status, e.status === 401 && usedBasic ? { "www-authenticate": 'Basic realm="pss"' } : {});
    if (e instanceof Error && "code" in e && e.code === "body_too_large") return oauthError("invalid_request", e.message, 413);
    return errorResponse(e);
  }
}
