// Test doubles for the key stores' persistence (the database implementation lives in lib/data/ca/key-store.ts).
import { isPkiError } from "../errors.ts";
import type { KeyMaterialRecord, KeyMaterialRepository } from "../keystore.ts";

/** Key-material rows in a map; `gets` counts reads. */
export class MemoryRepo implements KeyMaterialRepository {
  rows = new Map<string, KeyMaterialRecord>();
  gets = 0;
  async put(rec: KeyMaterialRecord) {
    this.rows.set(rec.ref, { ...rec });
  }
  async get(ref: string) {
    this.gets++;
    return this.rows.get(ref) ?? null;
  }
  /** the stored row of a software key */
  sealed(ref: string) {
    const row = this.rows.get(ref);
    if (row?.store !== "software") throw new Error(`no software key ${ref}`);
    return row;
  }
}

/** The PkiError code `fn` fails with, "ok" when it succeeds, "threw …" for any other error. */
export async function keyErrorCode(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    return isPkiError(e) ? e.code : `threw ${(e as Error).message}`;
  }
  return "ok";
}
