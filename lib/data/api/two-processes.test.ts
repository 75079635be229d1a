// SPEC §9: nothing held in one process's memory may change an answer. Two app processes share one database
// (PostgreSQL, or the embedded database served over its socket): a nonce used on one is refused on the other,
// and a certificate revoked through one is revoked for the other.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { freshClaims, signPayload } from "../../api/sign.ts";
import { csrPem, getToken, publicUrl, type TestTenant, tenant } from "../../api/testing/api-server.ts";
import { closeDb, openDatabase } from "../../db/client.ts";
import { serveEmbedded } from "../../db/embedded.ts";
import { ensureHierarchy } from "../ca/hierarchy.ts";

vi.mock("server-only", () => ({}));

const target = inject("pssTestDb");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "pss-two-procs-"));
const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  NEXTAUTH_SECRET: "two-processes-test-secret-of-32-characters",
  PSS_DATA_DIR: scratch,
};
let served: Awaited<ReturnType<typeof serveEmbedded>> | null = null;
const children: ChildProcess[] = [];
let urls: string[] = [];
let t: TestTenant;

function startProcess(): Promise<string> {
  const child = spawn(process.execPath, ["--conditions=react-server", "--import", "tsx", "lib/api/testing/serve.ts"], {
    env: childEnv,
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once("data", (d) => resolve(JSON.parse(String(d)).url));
    child.once("exit", (code) => reject(new Error(`API process exited with ${code}`)));
  });
}

beforeAll(async () => {
  process.env.NEXTAUTH_SECRET = childEnv.NEXTAUTH_SECRET;
  if (target.kind === "postgres") {
    childEnv.DATABASE_URL = target.url;
    openDatabase(target);
  } else {
    // a private copy of the migrated template, owned and served by this process like the product does
    const dir = path.join(scratch, "pglite");
    fs.cpSync(target.dir, dir, { recursive: true });
    served = await serveEmbedded(dir, path.join(scratch, "run"));
    openDatabase(served.target);
  }
  await ensureHierarchy({ type: "system", id: "test" });
  urls = await Promise.all([startProcess(), startProcess()]);
  t = await tenant({ url: urls[0], close: async () => {} }, `Two Procs ${Date.now()}`);
}, 120_000);

afterAll(async () => {
  for (const c of children) c.kill("SIGTERM");
  await closeDb();
  await served?.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const post = (base: string, p: string, token: string, body: string) =>
  fetch(`${base}${p}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/jose+json" }, body });

describe(`two app processes on one ${target.kind === "postgres" ? "PostgreSQL" : "embedded database (socket)"}`, () => {
  it("a nonce used on one process is refused on the other", async () => {
    const body = await signPayload(t.key, { csr: csrPem(), ...freshClaims() }, { url: publicUrl("/api/v1/bootstrap-certificates") });
    const first = await post(urls[0], "/api/v1/bootstrap-certificates", t.token, body);
    expect(first.status).toBe(201);
    // a token from process A is good on process B (shared secret, state in the database)
    const replay = await post(urls[1], "/api/v1/bootstrap-certificates", t.token, body);
    expect(replay.status).toBe(409);
    expect(((await replay.json()) as { error: { code: string } }).error.code).toBe("nonce_replayed");
  });

  it("a certificate revoked through one process is revoked when read through the other", async () => {
    const body = await signPayload(t.key, { csr: csrPem(), ...freshClaims() }, { url: publicUrl("/api/v1/bootstrap-certificates") });
    const issued = (await (await post(urls[1], "/api/v1/bootstrap-certificates", t.token, body)).json()) as { serial: string };
    const token = await getToken({ url: urls[1], close: async () => {} }, t.clientId, t.clientSecret);
    const revoke = await post(urls[0], `/api/v1/certificates/${issued.serial}/revoke`, token, JSON.stringify({ reason: "keyCompromise" }));
    expect(revoke.status).toBe(200);
    const shown = await fetch(`${urls[1]}/api/v1/certificates/${issued.serial}`, { headers: { authorization: `Bearer ${t.token}` } });
    expect(((await shown.json()) as { status: string }).status).toBe("revoked");
  });
});
