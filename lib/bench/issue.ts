// `pss bench issue`: issuance per second on one core — the signing core alone (parse + verify CSR, build,
// sign; with @peculiar/x509 as the in-run baseline), then the whole use case including the database write
// (certificate, device and audit rows in one transaction) on a scratch embedded database served the way
// the product serves it, and — where `cfssl` is installed — cfssl's sign API measured in the same run.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { keyStore } from "../data/ca/key-store.ts";
import { issueAndStore } from "../data/certificates/issue-certificate.ts";
import { createCustomer } from "../data/customers/create-customer.ts";
import { benchIssue } from "../pki/bench-issue.ts";
import { createCsr } from "../pki/csr.ts";
import { newPrivateKey } from "../pki/keygen.ts";
import { type NameAttribute, OID_CN } from "../pki/names.ts";
import { load, round, withScratchDatabase } from "./harness.ts";

/** Both sides of a comparison get the same uncounted warm-up (our JIT, cfssl's connections). */
const WARMUP_SECONDS = 2;

/** CSRs without a device id in the subject: the caller vouches for the id (as the mTLS and factory paths do). */
export function deviceCsrs(n: number, subject: NameAttribute[] = []): Buffer[] {
  return Array.from({ length: n }, () => createCsr({ key: newPrivateKey(), subject }));
}

/** Issuance with the database write on a scratch database (or the PostgreSQL at `databaseUrl`). */
function benchWithDatabase(seconds: number, concurrency: number, databaseUrl?: string) {
  return withScratchDatabase(async () => {
    const actor = { type: "system", id: "bench" } as const;
    const tag = Date.now().toString(36);
    const c = await createCustomer(
      { name: `Bench Co ${tag}`, adminEmail: `bench-${tag}@bench.test`, adminPassword: "bench-password-1" },
      actor,
    );
    const csrs = deviceCsrs(2000);
    // every request enrolls a new device id: a certificate row, a device row and an audit row per issuance
    const result = await load(
      seconds,
      concurrency,
      (i) =>
        issueAndStore({
          profile: "client-tls",
          csr: csrs[i % csrs.length],
          deviceId: `dev-${i}`,
          customerId: c.customer.id,
          uid: c.user.uid,
          actor,
        }),
      { warmup: WARMUP_SECONDS },
    );
    return { ...result, concurrency, keyStore: (await keyStore()).generatesIn };
  }, databaseUrl);
}

function hasCfssl(): boolean {
  try {
    execFileSync("cfssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** cfssl serve with a P-256 CA, its /api/v1/cfssl/sign driven over keep-alive HTTP from this process. */
async function benchCfssl(seconds: number, concurrency: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-bench-cfssl-"));
  let proc: ChildProcess | undefined;
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        `${dir}/ca-key.pem`,
        "-out",
        `${dir}/ca.pem`,
        "-subj",
        "/CN=cfssl bench CA",
        "-days",
        "30",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ],
      { stdio: "ignore" },
    );
    const port = 18888 + Math.floor(Math.random() * 1000);
    // one core, like our figure
    proc = spawn(
      "taskset",
      [
        "-c",
        "0",
        "cfssl",
        "serve",
        "-loglevel",
        "3",
        "-address",
        "127.0.0.1",
        "-port",
        String(port),
        "-ca",
        `${dir}/ca.pem`,
        "-ca-key",
        `${dir}/ca-key.pem`,
      ],
      { stdio: "ignore" },
    );
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const csrPem = deviceCsrs(64, [{ oid: OID_CN, value: "bench-device", encoding: "utf8" }]).map(
      (d) =>
        `-----BEGIN CERTIFICATE REQUEST-----\n${d.toString("base64").replace(/.{64}/g, "$&\n").trim()}\n-----END CERTIFICATE REQUEST-----\n`,
    );
    const sign = (i: number) =>
      new Promise<void>((resolve, reject) => {
        const body = JSON.stringify({ certificate_request: csrPem[i % csrPem.length] });
        const req = http.request(
          { host: "127.0.0.1", port, path: "/api/v1/cfssl/sign", method: "POST", agent, headers: { "content-type": "application/json" } },
          (res) => {
            res.resume();
            res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`cfssl answered ${res.statusCode}`))));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    for (let attempt = 0; ; attempt++) {
      try {
        await sign(0);
        break;
      } catch (e) {
        if (attempt > 50) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return await load(seconds, concurrency, sign, { warmup: WARMUP_SECONDS });
  } finally {
    proc?.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchIssueAll({
  seconds = 5,
  concurrency = 64,
  databaseUrl,
}: {
  seconds?: number;
  concurrency?: number;
  databaseUrl?: string;
} = {}) {
  const core = await benchIssue({ seconds, keyType: "p256" });
  const withDb = await benchWithDatabase(seconds, concurrency, databaseUrl);
  const cfssl = hasCfssl() ? await benchCfssl(seconds, concurrency) : null;
  return {
    key_type: "p256",
    issue_per_s: withDb.per_s,
    issue_per_process_cpu_s: withDb.per_process_cpu_s,
    issue_per_machine_cpu_s: withDb.per_machine_cpu_s,
    issue_vs_core: round(withDb.per_s / core.issue_per_s),
    issue_p50_ms: withDb.p50_ms,
    issue_p95_ms: withDb.p95_ms,
    core_issue_per_s: core.issue_per_s,
    peculiar_reference_per_s: core.reference_peculiar_per_s,
    core_vs_peculiar: round(core.ratio),
    cfssl_per_s: cfssl?.per_s ?? null,
    ratio_vs_cfssl: cfssl ? round(withDb.per_s / cfssl.per_s) : null,
    core_ratio_vs_cfssl: cfssl ? round(core.issue_per_s / cfssl.per_s) : null,
    concurrency,
    // "pkcs11" when PSS_PKCS11_MODULE is set: the customer's CA signs every certificate on the token
    ca_key_store: withDb.keyStore,
    database: databaseUrl ? "postgresql" : "embedded (PGlite over its socket)",
    note: "issue_per_s includes the database write (certificate, device and audit rows; concurrent issuances share one statement and transaction); one Node process. issue_per_process_cpu_s: issuances per CPU-second this process used (the embedded database runs in it); issue_per_machine_cpu_s: per CPU-second of the whole machine (a PostgreSQL server included)",
  };
}
