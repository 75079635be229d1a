import Link from "next/link";
import { EXPIRING_PRESETS, type FleetQuery } from "@/lib/validations/fleet.ts";

const CONTROL =
  "mt-1 block rounded-md border border-slate-300 bg-white px-3 py-2 text-sm dark:border-slate-700 dark:bg-slate-950 focus:outline-none focus:ring-1 focus:ring-blue-600";

/** A plain GET form: the URL is the state, so it works without JavaScript and every view is linkable. */
export function FleetFilters({ q, customers }: { q: FleetQuery; customers: { id: string; name: string }[] | null }) {
  return (
    <form method="get" action="/devices" aria-label="Filter devices" className="mb-4 flex flex-wrap items-end gap-3">
      <div>
        <label htmlFor="fleet-q" className="block text-sm font-medium">
          Search
        </label>
        <input
          id="fleet-q"
          name="q"
          type="search"
          defaultValue={q.q ?? ""}
          placeholder="SAN UID, device id or serial"
          className={`${CONTROL} w-72`}
        />
      </div>
      <div>
        <label htmlFor="fleet-status" className="block text-sm font-medium">
          Status
        </label>
        <select id="fleet-status" name="status" defaultValue={q.status} className={CONTROL}>
          <option value="all">All</option>
          <option value="active">Active</option>
          <option value="revoked">Revoked</option>
          <option value="expired">Expired</option>
          <option value="quarantined">Quarantined</option>
        </select>
      </div>
      <div>
        <label htmlFor="fleet-expiring" className="block text-sm font-medium">
          Expiring within
        </label>
        <select id="fleet-expiring" name="expiring" defaultValue={q.expiring ? String(q.expiring) : ""} className={CONTROL}>
          <option value="">Any time</option>
          {/* the presets, and a number of days from the URL (?expiring=N) as its own choice */}
          {[...new Set([...EXPIRING_PRESETS, ...(q.expiring ? [q.expiring] : [])])]
            .sort((a, b) => a - b)
            .map((n) => (
              <option key={n} value={n}>
                {n} {n === 1 ? "day" : "days"}
              </option>
            ))}
        </select>
      </div>
      {customers && (
        <div>
          <label htmlFor="fleet-customer" className="block text-sm font-medium">
            Customer
          </label>
          <select id="fleet-customer" name="customer" defaultValue={q.customer ?? ""} className={CONTROL}>
            <option value="">All customers</option>
            {customers.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </div>
      )}
      <div>
        <label htmlFor="fleet-size" className="block text-sm font-medium">
          Page size
        </label>
        <select id="fleet-size" name="size" defaultValue={String(q.size)} className={CONTROL}>
          {[10, 25, 50, 100].map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </div>
      <label className="flex items-center gap-2 pb-2 text-sm">
        <input type="checkbox" name="overdue" value="1" defaultChecked={q.overdue === "1"} className="h-4 w-4" />
        Rotation overdue only
      </label>
      <input type="hidden" name="sort" value={q.sort} />
      <input type="hidden" name="dir" value={q.dir} />
      <button
        type="submit"
        className="rounded-md bg-blue-700 px-4 py-2 text-sm font-medium text-white hover:bg-blue-800 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-blue-600 dark:bg-blue-600"
      >
        Apply
      </button>
      <Link href="/devices" className="pb-2 text-sm text-blue-700 underline dark:text-blue-400">
        Reset
      </Link>
    </form>
  );
}
