import type { PGlite } from "@electric-sql/pglite";

export const DURABLE_START_PARAMS: string[];
export function openDurablePGlite(dir: string): PGlite;
