import "server-only";
import type { FleetQuery } from "../../validations/fleet.ts";
import type { FleetScope } from "./fleet-filter.ts";
import { listDevices } from "./list-devices.ts";

const BATCH = 1000;
const HEADER = ["device_id", "customer", "status", "san_uid", "serial", "enrolled_at", "last_rotated_at", "rotation_overdue", "not_after"];

function csvCell(v: string | boolean | null): string {
  const s = v === null ? "" : String(v);
  // quote everything that needs it, and neutralise spreadsheet formulas
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The current filter as CSV, streamed in keyset batches so a million rows never sit in memory. */
export function exportDevicesCsv(q: FleetQuery, scope: FleetScope): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  const now = new Date();
  let cursor: FleetQuery["cursor"];
  let started = false;
  let done = false;
  return new ReadableStream({
    async pull(controller) {
      if (!started) {
        started = true;
        controller.enqueue(enc.encode(`${HEADER.join(",")}\n`));
        return;
      }
      if (done) return controller.close();
      const page = await listDevices({ ...q, size: BATCH, cursor }, scope, now, { count: false });
      const lines = page.rows.map((r) =>
        [r.deviceId, r.customerName, r.status, r.uid, r.serial, r.enrolledAt, r.lastRotatedAt, r.rotationOverdue, r.notAfter]
          .map(csvCell)
          .join(","),
      );
      if (lines.length) controller.enqueue(enc.encode(`${lines.join("\n")}\n`));
      if (!page.nextCursor) {
        done = true;
        return controller.close();
      }
      cursor = JSON.parse(Buffer.from(page.nextCursor, "base64url").toString("utf8"));
    },
  });
}
