import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { openApiDocument } from "@/lib/api/openapi.ts";
import { requireRole } from "@/lib/auth/session.ts";
import { env } from "@/lib/env.ts";

type Operation = { summary?: string; description?: string };
const METHODS = ["get", "post", "put", "patch", "delete"] as const;

// The customer API described from the same OpenAPI document /api/v1/openapi.json serves.
export default async function Page() {
  await requireRole(...rolesFor("/api-docs"));
  const doc = openApiDocument(env().publicUrl) as {
    servers: { url: string }[];
    info: { description: string };
    paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
    components: { schemas: Record<string, unknown> };
  };
  const base = doc.servers[0].url;
  return (
    <div className="max-w-4xl space-y-6">
      <PageHeader title="Customer API">{doc.info.description}</PageHeader>
      <p>
        Machine-readable description:{" "}
        <a className="text-blue-700 underline dark:text-blue-400" href="/api/v1/openapi.json">
          /api/v1/openapi.json
        </a>{" "}
        (OpenAPI 3.1). Base URL: <code>{base}</code>
      </p>
      <section aria-label="Endpoints" className="space-y-4">
        {Object.entries(doc.paths).flatMap(([path, ops]) =>
          METHODS.filter((m) => ops[m]).map((m) => (
            <article key={`${m} ${path}`} className="rounded border border-slate-200 p-4 dark:border-slate-700">
              <h2 className="font-mono text-sm font-semibold">
                {m.toUpperCase()} /api/v1{path}
              </h2>
              <p className="mt-1 font-medium">{ops[m]?.summary}</p>
              {ops[m]?.description && <p className="mt-1 text-sm text-slate-600 dark:text-slate-400">{ops[m]?.description}</p>}
            </article>
          )),
        )}
      </section>
      <section aria-label="Schemas" className="space-y-2">
        <h2 className="text-xl font-semibold">Schemas</h2>
        {Object.entries(doc.components.schemas).map(([name, schema]) => (
          <details key={name} className="rounded border border-slate-200 p-2 dark:border-slate-700">
            <summary className="cursor-pointer font-mono text-sm">{name}</summary>
            <pre className="mt-2 overflow-x-auto text-xs">{JSON.stringify(schema, null, 2)}</pre>
          </details>
        ))}
      </section>
    </div>
  );
}
