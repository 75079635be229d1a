import { json } from "@/lib/api/http.ts";
import { openApiDocument } from "@/lib/api/openapi.ts";
import { env } from "@/lib/env.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/openapi.json — OpenAPI 3.1, generated from the request schemas.
export async function GET() {
  return json(openApiDocument(env().publicUrl), 200, { "cache-control": "public, max-age=300" });
}
