import { defineConfig } from "prisma/config";

// Only `prisma generate` uses this file: migrations run through lib/db/migrator.ts (WebAssembly schema engine).
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
});
