/** A URL search param's first value: Next.js gives an array when the URL repeats a key. */
export const firstValue = (v: unknown) => (Array.isArray(v) ? v[0] : v);
