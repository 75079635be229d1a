"use client";

import {
  createColumnHelper,
  rowPaginationFeature,
  rowSortingFeature,
  type SortingState,
  tableFeatures,
  useTable,
} from "@tanstack/react-table";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useMemo } from "react";
import { Badge } from "@/components/ui/badge.tsx";
import type { FleetRow } from "@/lib/data/fleet/list-devices.ts";

// pagination is registered only so the table knows the server owns it (manualPagination); no client row models
const features = tableFeatures({ rowSortingFeature, rowPaginationFeature });
const helper = createColumnHelper<typeof features, FleetRow>();
const day = (iso: string | null) => (iso ? iso.slice(0, 10) : "—");

const baseColumns = helper.columns([
  helper.accessor("deviceId", {
    header: "Device id",
    enableSorting: false,
    cell: (info) => (
      <Link href={`/devices/${info.row.original.id}`} className="font-mono text-blue-700 underline dark:text-blue-400">
        {info.getValue()}
      </Link>
    ),
  }),
  helper.accessor("customerName", { id: "customer", header: "Customer", enableSorting: false }),
  helper.accessor("uid", {
    header: "SAN UID",
    enableSorting: false,
    cell: (info) => <span className="font-mono text-xs">{info.getValue() ?? "—"}</span>,
  }),
  helper.accessor("serial", {
    header: "Current certificate",
    enableSorting: false,
    cell: (info) => {
      const serial = info.getValue();
      return serial ? (
        <Link href={`/certificates/${serial}`} className="font-mono text-xs text-blue-700 underline dark:text-blue-400">
          {serial}
        </Link>
      ) : (
        "—"
      );
    },
  }),
  helper.accessor("status", {
    header: "Status",
    enableSorting: false,
    cell: (info) => <Badge tone={info.getValue() === "quarantined" ? "amber" : undefined}>{info.getValue()}</Badge>,
  }),
  helper.accessor("enrolledAt", { id: "enrolled", header: "Enrolled", cell: (info) => day(info.getValue()) }),
  helper.accessor("lastRotatedAt", {
    id: "rotation",
    header: "Last rotation",
    cell: (info) => (
      <span className="inline-flex items-center gap-2">
        {day(info.getValue())}
        {info.row.original.rotationOverdue && <Badge tone="amber">overdue</Badge>}
      </span>
    ),
  }),
  helper.accessor("notAfter", { id: "expiry", header: "Expires", cell: (info) => day(info.getValue()) }),
]);
const SORTABLE = ["enrolled", "rotation", "expiry"];

/**
 * The fleet table: TanStack Table renders what the server already filtered, sorted and paginated
 * (manualSorting/manualPagination); a sort click only rewrites the URL, and the server page re-renders.
 */
export function FleetTable({
  rows,
  sort,
  dir,
  showCustomer,
  sortable = SORTABLE,
}: {
  rows: FleetRow[];
  sort: string;
  dir: "asc" | "desc";
  showCustomer: boolean;
  /** the sorts the current filter allows (expiring within N days: expiry only) */
  sortable?: readonly string[];
}) {
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const sorting = useMemo<SortingState>(() => [{ id: sort, desc: dir === "desc" }], [sort, dir]);
  const columns = useMemo(
    () =>
      baseColumns
        .filter((c) => showCustomer || c.id !== "customer")
        .map((c) => (c.id && SORTABLE.includes(c.id) && !sortable.includes(c.id) ? { ...c, enableSorting: false } : c)),
    [showCustomer, sortable],
  );
  const table = useTable({
    features,
    columns,
    data: rows,
    manualSorting: true,
    manualPagination: true,
    enableSortingRemoval: false,
    enableMultiSort: false,
    sortDescFirst: true,
    state: { sorting },
    onSortingChange: (updater) => {
      const next = typeof updater === "function" ? updater(sorting) : updater;
      const s = next[0];
      if (!s) return;
      const url = new URLSearchParams(params.toString());
      url.set("sort", s.id);
      url.set("dir", s.desc ? "desc" : "asc");
      url.delete("cursor");
      router.push(`${pathname}?${url.toString()}`);
    },
  });

  return (
    <div className="overflow-x-auto rounded-lg border border-slate-200 dark:border-slate-800">
      <table className="min-w-full divide-y divide-slate-200 text-sm dark:divide-slate-800">
        <caption className="sr-only">Devices</caption>
        <thead className="bg-slate-50 text-left dark:bg-slate-900">
          {table.getHeaderGroups().map((group) => (
            <tr key={group.id}>
              {group.headers.map((header) => {
                const sorted = header.column.getIsSorted();
                return (
                  <th
                    key={header.id}
                    scope="col"
                    className="px-3 py-2 font-medium"
                    aria-sort={sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : undefined}
                  >
                    {header.column.getCanSort() ? (
                      <button
                        type="button"
                        onClick={header.column.getToggleSortingHandler()}
                        className="inline-flex items-center gap-1 rounded hover:underline focus-visible:outline-2 focus-visible:outline-blue-600"
                      >
                        <table.FlexRender header={header} />
                        <span aria-hidden="true">{sorted === "asc" ? "▲" : sorted === "desc" ? "▼" : "↕"}</span>
                      </button>
                    ) : (
                      <table.FlexRender header={header} />
                    )}
                  </th>
                );
              })}
            </tr>
          ))}
        </thead>
        <tbody className="divide-y divide-slate-200 dark:divide-slate-800">
          {table.getRowModel().rows.map((row) => (
            <tr key={row.id} data-testid="fleet-row">
              {row.getAllCells().map((cell) => (
                <td key={cell.id} className="px-3 py-2 align-top">
                  <table.FlexRender cell={cell} />
                </td>
              ))}
            </tr>
          ))}
          {rows.length === 0 && (
            <tr>
              <td className="px-3 py-6 text-center text-slate-600 dark:text-slate-400" colSpan={8}>
                No devices match.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
