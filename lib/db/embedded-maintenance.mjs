// PostgreSQL's autovacuum, for the embedded database. PGlite runs PostgreSQL as one backend in single-user mode,
// where no autovacuum worker ever starts: nothing would reclaim dead rows (every rotation rewrites a Device row, the
// hourly prune deletes rate-limit windows and nonces), nothing would freeze old transaction ids (a database never
// vacuumed stops accepting writes after about two billion transactions) and the planner would never get statistics.
// The database's thread (./embedded-worker.mjs) runs these statements between other statements, one at a time and
// when no connection holds a transaction open, with autovacuum's default thresholds. Plain JavaScript, like the thread that loads it.

/** PostgreSQL's defaults (autovacuum_* settings): a table qualifies once this much of it changed. */
export const THRESHOLDS = {
  vacuum: { base: 50, scale: 0.2 },
  vacuumInsert: { base: 1000, scale: 0.2 },
  analyze: { base: 50, scale: 0.1 },
  freezeMaxAge: 200_000_000,
};

// Every ordinary table, the system catalogs included (each ANALYZE rewrites pg_statistic rows); a table's TOAST
// table is vacuumed with it. Numbers as float8: PGlite returns int8 as BigInt.
const TABLES = `
  SELECT format('%I.%I', s.schemaname, s.relname) AS name, greatest(c.reltuples, 0)::float8 AS tuples,
         s.n_dead_tup::float8 AS dead, s.n_ins_since_vacuum::float8 AS inserted, s.n_mod_since_analyze::float8 AS modified,
         age(c.relfrozenxid)::float8 AS "xidAge"
    FROM pg_stat_all_tables s JOIN pg_class c ON c.oid = s.relid
   WHERE c.relkind = 'r' AND s.schemaname NOT IN ('pg_toast', 'information_schema')
   ORDER BY 1`;

/**
 * @typedef {{ name: string, tuples: number, dead: number, inserted: number, modified: number, xidAge: number }} TableStats
 * @typedef {{ table: string, statement: string }} Step
 */

/**
 * What autovacuum would do now, one statement per table: VACUUM for dead rows, for many inserted rows (it sets
 * the visibility map and freezes them) or for an old relfrozenxid; ANALYZE once a tenth of the rows changed.
 * @param {TableStats[]} tables
 * @returns {Step[]}
 */
export function dueSteps(tables) {
  const over = (/** @type {number} */ n, /** @type {{ base: number, scale: number }} */ t, /** @type {number} */ tuples) =>
    n > t.base + t.scale * tuples;
  /** @type {Step[]} */
  const steps = [];
  for (const t of tables) {
    const vacuum =
      over(t.dead, THRESHOLDS.vacuum, t.tuples) ||
      over(t.inserted, THRESHOLDS.vacuumInsert, t.tuples) ||
      t.xidAge > THRESHOLDS.freezeMaxAge;
    const analyze = over(t.modified, THRESHOLDS.analyze, t.tuples);
    if (vacuum) steps.push({ table: t.name, statement: `VACUUM ${analyze ? "(ANALYZE) " : ""}${t.name}` });
    else if (analyze) steps.push({ table: t.name, statement: `ANALYZE ${t.name}` });
  }
  return steps;
}

/**
 * The statements due on `db` now (a PGlite instance; the caller makes sure no transaction is open and runs them
 * one at a time between other statements).
 * @param {{ query: (sql: string) => Promise<{ rows: any[] }> }} db
 * @returns {Promise<string[]>}
 */
export async function dueStatements(db) {
  return dueSteps((await db.query(TABLES)).rows).map((s) => s.statement);
}
