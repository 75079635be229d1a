import fs from "node:fs";
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
      concurrency: Number(values.concurrency ?? 8),
      ...(values["database-url"] ? { databaseUrl: values["database-url"] } : {}),
    });
    fs.writeFileSync("bench-report-issue.json", `${JSON.stringify(report, null, 2)}\n`);
    return report;
  },
};
