import Link from "next/link";
import { Badge } from "@/components/ui/badge.tsx";
import { date, Table, TD } from "@/components/ui/table.tsx";
import type { CaSummary } from "@/lib/data/ca/list-cas.ts";
import { RotateButton } from "./rotate-button.tsx";

const KIND_LABEL: Record<string, string> = {
  ROOT: "TLS Root CA",
  BOOTSTRAP_INTERMEDIATE: "Bootstrapping Intermediate CA",
  BOOTSTRAP_ISSUING: "Bootstrapping Issuing CA",
  TLS_INTERMEDIATE: "TLS Intermediate CA",
  CUSTOMER_TLS_ISSUING: "Customer TLS Issuing CA",
  APPLICATION: "Application CA",
};

/** Depth-first order with depth, so the table reads as a tree (parents above their generations' children). */
function asTree(cas: CaSummary[]): { ca: CaSummary; depth: number }[] {
  const ids = new Set(cas.map((c) => c.id));
  const children = new Map<string | null, CaSummary[]>();
  for (const ca of cas) {
    const key = ca.parentId && ids.has(ca.parentId) ? ca.parentId : null;
    children.set(key, [...(children.get(key) ?? []), ca]);
  }
  const out: { ca: CaSummary; depth: number }[] = [];
  const walk = (parent: string | null, depth: number) => {
    for (const ca of children.get(parent) ?? []) {
      out.push({ ca, depth });
      walk(ca.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

/** Every CA generation with its state, key age, expiry and rotation; staff get the actions; a customer's own list has no customer column. */
export function CaTable({
  cas,
  actions,
  customerNames = {},
  customerColumn = true,
}: {
  cas: CaSummary[];
  actions: boolean;
  customerNames?: Record<string, string>;
  customerColumn?: boolean;
}) {
  return (
    <Table
      caption="Certificate authorities"
      head={[
        "CA",
        ...(customerColumn ? ["Customer"] : []),
        "Generation",
        "State",
        "Key",
        "Expires",
        "Rotation due",
        actions ? "Actions" : "",
      ]}
    >
      {asTree(cas).map(({ ca, depth }) => (
        <tr key={ca.id} data-testid={`ca-${ca.id}`}>
          <td className={TD} style={{ paddingLeft: `${0.75 + depth * 1.25}rem` }}>
            <div className="font-medium">
              {KIND_LABEL[ca.kind] ?? ca.kind}
              {ca.application ? ` (${ca.application})` : ""}
            </div>
            <div className="text-xs text-slate-600 dark:text-slate-400">{ca.subject}</div>
            {ca.externalParent && <div className="text-xs text-slate-600 dark:text-slate-400">signed by the customer's own CA</div>}
          </td>
          {customerColumn && <td className={TD}>{ca.customerId ? (customerNames[ca.customerId] ?? "—") : "shared"}</td>}
          <td className={`${TD} tabular-nums`}>G{ca.generation}</td>
          <td className={TD}>
            <Badge>{ca.status}</Badge>
          </td>
          <td className={TD}>
            <div className="tabular-nums">{ca.keyAgeDays} d old</div>
            <div className="text-xs text-slate-600 dark:text-slate-400">
              {ca.keyStore === "pkcs11" ? "PKCS#11 token" : "software, sealed"}
            </div>
          </td>
          <td className={TD}>{date(ca.notAfter)}</td>
          <td className={TD}>{ca.rotationDue ? <Badge tone="amber">{ca.rotationDue}</Badge> : "—"}</td>
          <td className={TD}>
            {actions && ca.status === "ACTIVE" && ca.kind !== "ROOT" && (
              <div className="flex flex-wrap items-center gap-2">
                {!ca.externalParent && <RotateButton caId={ca.id} subject={ca.subject} />}
                {ca.kind === "CUSTOMER_TLS_ISSUING" && (
                  <Link
                    href={`/ca/${ca.id}/revoke`}
                    className="rounded-md bg-red-700 px-2 py-1 text-xs font-medium text-white hover:bg-red-800"
                    aria-label={`Revoke ${ca.subject}`}
                  >
                    Revoke
                  </Link>
                )}
              </div>
            )}
          </td>
        </tr>
      ))}
    </Table>
  );
}
