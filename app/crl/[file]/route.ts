import { type CrlVersion, crlBytes, crlUnchangedSince, currentCrlVersion } from "@/lib/data/revocation/crl.ts";
import { isAppError } from "@/lib/errors.ts";
import { isUuid } from "@/lib/validations/common.ts";

export const dynamic = "force-dynamic";

// GET /crl/<ca-id>.crl — DER CRL of one CA generation, no authentication (SPEC §6). A revocation takes effect in
// the next CRL, made as it happens: a cache in front may keep a CRL but must revalidate it on every use (no-cache),
// which the CRL number as a strong ETag and its thisUpdate as Last-Modified make a 304 while nothing changed.
export async function GET(req: Request, { params }: { params: Promise<{ file: string }> }) {
  const { file } = await params;
  const id = /^(.+)\.crl$/.exec(file)?.[1]?.toLowerCase();
  // not a CA id: not looked up (the database refuses a malformed uuid)
  if (!id || !isUuid(id)) return new Response("not found\n", { status: 404 });
  try {
    // A 304 is decided from the CRL's number and thisUpdate alone: its DER (megabytes for a big CA) is read for a 200 only.
    const current = await currentCrlVersion(id);
    if (await notModified(req, etag(current), (since) => crlUnchangedSince(id, current, since)))
      return new Response(null, { status: 304, headers: validators(current) });
    const crl = await crlBytes(id, current);
    return new Response(new Uint8Array(crl.der), { headers: { "content-type": "application/pkix-crl", ...validators(crl) } });
  } catch (e) {
    if (isAppError(e) && e.status === 404) return new Response("not found\n", { status: 404 });
    throw e;
  }
}

const etag = (crl: CrlVersion) => `"${crl.number}"`;
const validators = (crl: CrlVersion) => ({
  "cache-control": "public, no-cache",
  etag: etag(crl),
  "last-modified": crl.thisUpdate.toUTCString(),
});

/**
 * RFC 9110 §13.1.2-3: If-None-Match (weak comparison, `*` matches) decides when present, If-Modified-Since only
 * without it; an unparseable date is ignored.
 */
async function notModified(req: Request, etag: string, unchangedSince: (since: Date) => Promise<boolean>): Promise<boolean> {
  const ifNoneMatch = req.headers.get("if-none-match");
  if (ifNoneMatch !== null)
    return ifNoneMatch
      .split(",")
      .map((tag) => tag.trim().replace(/^W\//, ""))
      .some((tag) => tag === "*" || tag === etag);
  const since = Date.parse(req.headers.get("if-modified-since") ?? "");
  return !Number.isNaN(since) && unchangedSince(new Date(since));
}
