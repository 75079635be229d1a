import fs from "node:fs";
import { benchFleet } from "../../lib/bench/fleet.ts";
import { seedDevices } from "../../lib/data/fleet/seed-devices.ts";
import { type Command, flags } from "../io.ts";

export const seed: Command = {
  name: "seed",
  summary:
    "bulk-insert N devices with realistic Client TLS certificate rows (one real signed DER reused as template), for measuring the fleet",
  usage: "pss seed --devices N [--customer ID] [--prefix dev-] [--json]",
  needsDb: true,
  async run({ args, json }) {
    const { values } = flags(args, { devices: { type: "string" }, customer: { type: "string" }, prefix: { type: "string" } });
    return seedDevices({
      devices: Number(values.devices ?? 1000),
      ...(values.customer ? { customerId: values.customer } : {}),
      ...(values.prefix ? { prefix: values.prefix } : {}),
      onProgress: json ? undefined : (n) => process.stderr.write(`\rseeded ${n.toLocaleString("en")} devices`),
    });
  },
};

export const benchFleetCommand: Command = {
  name: "bench fleet",
  summary:
    "the fleet page's query mix (search, filters, sorts, page 50, CSV) N times each: p50/p95 server time; writes bench-report-fleet.json",
  usage: "pss bench fleet [--iterations N] [--customer ID] [--json]",
  needsDb: true,
  async run({ args }) {
    const { values } = flags(args, { iterations: { type: "string" }, customer: { type: "string" } });
    const report = await benchFleet({
      iterations: Number(values.iterations ?? 20),
      ...(values.customer ? { customerId: values.customer } : {}),
    });
    fs.writeFileSync("bench-report-fleet.json", `${JSON.stringify(report, null, 2)}\n`);
    return report;
  },
};
