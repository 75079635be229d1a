import fs from "node:fs";
import { benchApi } from "../../lib/bench/api.ts";
import { benchIssueAll } from "../../lib/bench/issue.ts";
import { type Command, flags } from "../io.ts";

export const benchIssue: Command = {
  name: "bench issue",
  summary: "issuance per second (signing core, with the database write, and cfssl when installed); writes bench-report-issue.json",
  usage: "pss bench issue [--seconds N] [--concurrency N] [--database-url postgresql://…] [--json]",
  async run({ args }) {
    const { values } = flags(args, { seconds: { type: "string" }, concurrency: { type: "string" }, "database-url": { type: "string" } });
    const report = await benchIssueAll({
      seconds: Number(values.seconds ?? 5),
      concurrency: Number(values.concurrency ?? 64),
      ...(values["database-url"] ? { databaseUrl: values["database-url"] } : {}),
    });
    fs.writeFileSync("bench-report-issue.json", `${JSON.stringify(report, null, 2)}\n`);
    return report;
  },
};

export const benchApiCommand: Command = {
  name: "bench api",
  summary: "bootstrap-certificate issuance over HTTP: p50/p95 latency and rate; writes bench-report-api.json",
  usage: "pss bench api [--seconds N] [--concurrency N] [--database-url postgresql://…] [--json]",
  async run({ args }) {
    const { values } = flags(args, { seconds: { type: "string" }, concurrency: { type: "string" }, "database-url": { type: "string" } });
    const report = await benchApi({
      seconds: Number(values.seconds ?? 3),
      concurrency: Number(values.concurrency ?? 8),
      ...(values["database-url"] ? { databaseUrl: values["database-url"] } : {}),
    });
    fs.writeFileSync("bench-report-api.json", `${JSON.stringify(report, null, 2)}\n`);
    return report;
  },
};
