import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
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

type IssueReport = Awaited<ReturnType<typeof benchIssueAll>>;
type EnrollReport = {
  bare_handshake_per_s: number | null;
  fresh_enroll_per_s: number | null;
  resumed_enroll_per_s: number | null;
  keepalive_enroll_per_s: number | null;
  fresh_vs_handshake: number | null;
  concurrency: number;
};
type ApiReport = Awaited<ReturnType<typeof benchApi>>;

const yes = (ok: boolean | null) => (ok === null ? "—" : ok ? "met" : "**not met**");

/** The short report `npm run bench` writes: each figure beside its target (issues 3 and 5) and its baseline. */
export function benchReport(r: {
  at: string;
  cores: number;
  issue: IssueReport;
  enroll: EnrollReport;
  keepalive: EnrollReport;
  api: ApiReport;
}): string {
  const { issue, enroll, keepalive, api } = r;
  // per core: issuances per CPU-second of every process of the machine (a PostgreSQL server's included) where
  // /proc/stat tells, else of the issuing process (the embedded database runs in it)
  const perCore = issue.issue_per_machine_cpu_s ?? issue.issue_per_process_cpu_s;
  return [
    `# PSS benchmark report`,
    "",
    `${r.at}, ${r.cores} cores, ${issue.database}; every ratio is against a baseline measured in the same run.`,
    "",
    "| measure | value | baseline / ratio | target | |",
    "| --- | --- | --- | --- | --- |",
    `| issuance with the database write, ${issue.concurrency} concurrent | ${issue.issue_per_s}/s (${issue.issue_per_process_cpu_s} per CPU-second of the process${issue.issue_per_machine_cpu_s === null ? "" : `, ${issue.issue_per_machine_cpu_s} of the machine`}) | signing core alone ${issue.core_issue_per_s}/s (×${issue.issue_vs_core}); cfssl ${issue.cfssl_per_s ?? "not installed"}${issue.ratio_vs_cfssl === null ? "" : ` (×${issue.ratio_vs_cfssl})`} | ≥ 2,000/s per core (machine CPU-second) | ${yes(perCore >= 2000)} |`,
    `| signing core against @peculiar/x509 | ${issue.core_issue_per_s}/s | ${issue.peculiar_reference_per_s}/s (×${issue.core_vs_peculiar}) | | |`,
    `| EST enrollment on fresh handshakes, ${enroll.concurrency} connections | ${enroll.fresh_enroll_per_s}/s | bare handshakes ${enroll.bare_handshake_per_s}/s (×${enroll.fresh_vs_handshake}) | ≥ 0.85 of the handshakes | ${yes(enroll.fresh_vs_handshake === null ? null : enroll.fresh_vs_handshake >= 0.85)} |`,
    `| EST enrollment on resumed sessions | ${enroll.resumed_enroll_per_s}/s | | | |`,
    `| EST enrollment on kept-alive connections | ${enroll.keepalive_enroll_per_s}/s at ${enroll.concurrency} connections, ${keepalive.keepalive_enroll_per_s}/s at ${keepalive.concurrency} | | ≥ 1,500/s | ${yes(keepalive.keepalive_enroll_per_s === null ? null : keepalive.keepalive_enroll_per_s >= 1500)} |`,
    `| bootstrapping certificates over the API, ${api.concurrent.concurrency} concurrent | ${api.concurrent.per_s}/s, p50 ${api.concurrent.p50_ms} ms, p95 ${api.concurrent.p95_ms} ms | one at a time: p50 ${api.sequential.p50_ms} ms | | |`,
    "",
    "The machine's speed moves by a third from hour to hour here: compare figures of one run. Details: bench-report.json.",
    "",
  ].join("\n");
}

/** One benchmark in a process of its own (each migrates a scratch database; one schema engine per process). */
function runBench(args: string[]): Promise<unknown> {
  const bin = path.resolve(import.meta.dirname, "../../bin/pss.mjs");
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [bin, ...args, "--json"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }, (e, out, err) => {
      const last = out.trim().split("\n").at(-1) ?? "";
      try {
        const parsed = JSON.parse(last) as { error?: { message?: string } };
        if (e || parsed.error) reject(new Error(`pss ${args.join(" ")}: ${parsed.error?.message ?? err.trim().split("\n").at(-1)}`));
        else resolve(parsed);
      } catch {
        reject(new Error(`pss ${args.join(" ")}: ${err.trim().split("\n").at(-1) ?? "no answer"}`));
      }
    }),
  );
}

export const benchAll: Command = {
  name: "bench",
  summary:
    "every benchmark in one run, each in a process of its own (issue; enroll at 32 connections, and kept alive at 256; api); writes bench-report.md (figures beside targets) and bench-report.json",
  usage: "pss bench [--seconds N] [--database-url postgresql://…] [--json]",
  async run({ args }) {
    const { values } = flags(args, { seconds: { type: "string" }, "database-url": { type: "string" } });
    const seconds = values.seconds ?? "5";
    const db = values["database-url"] ? ["--database-url", values["database-url"]] : [];
    const issue = (await runBench(["bench", "issue", "--seconds", seconds, ...db])) as IssueReport;
    const enroll = (await runBench(["bench", "enroll", "--seconds", seconds, "--concurrency", "32", ...db])) as EnrollReport;
    const keepalive = (await runBench([
      "bench",
      "enroll",
      "--seconds",
      seconds,
      "--concurrency",
      "256",
      "--modes",
      "keepalive",
      ...db,
    ])) as EnrollReport;
    const api = (await runBench(["bench", "api", "--seconds", seconds, ...db])) as ApiReport;
    const report = { at: new Date().toISOString(), cores: os.availableParallelism(), issue, enroll, keepalive, api };
    fs.writeFileSync("bench-report.json", `${JSON.stringify(report, null, 2)}\n`);
    fs.writeFileSync("bench-report.md", benchReport(report));
    return { report: "bench-report.md", ...report };
  },
};
