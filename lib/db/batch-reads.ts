// Batched reads: many callers asking for rows by key at once share one query (`WHERE key = ANY($1)`), so a
// hot lookup — the device authorizer's, run on every request — costs one round trip per batch, not per caller.
// A key asked for while a query is in flight waits for the next query, never joins the running one: every
// answer was read after it was asked for, so a batched read is exactly as fresh as a direct one.

export type BatchedRead<K, V> = (key: K) => Promise<V | undefined>;

/** At most this many keys per query; more wait for the next one. */
const MAX_KEYS = 500;

/**
 * `load(keys)` returns the rows found, keyed; a key without a row resolves to undefined. A failed query
 * rejects every caller of that batch and nobody else.
 */
export function batchedRead<K, V>(load: (keys: K[]) => Promise<Map<K, V>>): BatchedRead<K, V> {
  type Waiter = { resolve(v: V | undefined): void; reject(e: unknown): void };
  const waiting = new Map<K, Waiter[]>();
  let running = false;

  async function run() {
    running = true;
    try {
      while (waiting.size) {
        const batch = new Map<K, Waiter[]>();
        for (const [k, w] of waiting) {
          if (batch.size >= MAX_KEYS) break;
          batch.set(k, w);
        }
        for (const k of batch.keys()) waiting.delete(k);
        try {
          const rows = await load([...batch.keys()]);
          for (const [k, ws] of batch) for (const w of ws) w.resolve(rows.get(k));
        } catch (e) {
          for (const ws of batch.values()) for (const w of ws) w.reject(e);
        }
      }
    } finally {
      running = false;
    }
  }

  return (key) =>
    new Promise<V | undefined>((resolve, reject) => {
      const ws = waiting.get(key);
      if (ws) ws.push({ resolve, reject });
      else waiting.set(key, [{ resolve, reject }]);
      // the first caller starts a query on the next tick, so callers of the same tick share it
      if (!running) {
        running = true;
        queueMicrotask(() => void run());
      }
    });
}
