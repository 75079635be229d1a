// Manufacturing batches, the `pss factory enroll` tool, the device list and the leaked-bootstrap-key answer,
// over real HTTP against the route handlers.
import { execFile } from "node:child_process";
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, X509Certificate } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { dbLabel, testDb, unique } from "../../../tests/db.ts";
import { freshClaims, signPayload } from "../../api/sign.ts";
import { type ApiServer, csrPem, publicUrl, startApiServer, type TestTenant, tenant } from "../../api/testing/api-server.ts";
import { createCsr, parseCsr } from "../../pki/csr.ts";
import { boolean, sequence, toPem } from "../../pki/der.ts";
import { ensureHierarchy } from "../ca/hierarchy.ts";
import { issueAndStore } from "../certificates/issue-certificate.ts";
import { setEnrollmentPolicy } from "../enrollment/manage-policy.ts";

vi.mock("server-only", () => ({}));

const db = testDb();
let api: ApiServer;
let a: TestTenant;
let b: TestTenant;
const BATCH = "/api/v1/manufacturing/client-tls-certificates";

beforeAll(async () => {
  await ensureHierarchy({ type: "system", id: "test" });
  api = await startApiServer();
  a = await tenant(api, unique("Initrode Mfg").replace(/-/g, " "));
  b = await tenant(api, unique("Umbrella Mfg").replace(/-/g, " "));
});
afterAll(() => api?.close());

async function post(pathname: string, body: string, t: TestTenant = a, headers: Record<string, string> = {}) {
  const res = await fetch(`${api.url}${pathname}`, {
    method: "POST",
    headers: { authorization: `Bearer ${t.token}`, "content-type": "application/jose+json", ...headers },
    body,
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

const batchBody = (csrs: string[], t: TestTenant = a) => signPayload(t.key, { csrs, ...freshClaims() }, { url: publicUrl(BATCH) });
const ids = (n: number) => Array.from({ length: n }, () => unique("dev").slice(0, 60));
const counts = async () => ({
  certificates: await db.certificate.count({ where: { customerId: a.customerId } }),
  devices: await db.device.count({ where: { customerId: a.customerId } }),
});

describe(`manufacturing batches (${dbLabel()})`, () => {
  it("issues Client TLS certificates in request order for new devices, authorized by the key", async () => {
    const devices = ids(3);
    const r = await post(BATCH, await batchBody(devices.map((d) => csrPem(undefined, d))));
    expect(r.status).toBe(201);
    const certs = r.body.certificates as { serial: string; deviceId: string; certificate: string }[];
    expect(certs.map((c) => c.deviceId)).toEqual(devices);
    const rows = await db.certificate.findMany({ where: { serial: { in: certs.map((c) => c.serial) } }, include: { device: true } });
    expect(rows.every((x) => x.kind === "CLIENT_TLS" && x.authorizedBy === `key:${a.kid}` && x.uid === a.uid)).toBe(true);
    expect(rows.map((x) => x.device?.deviceId).sort()).toEqual([...devices].sort());
  });

  it("Idempotency-Key: a retry (re-signed or byte-identical) returns the same certificates; other CSRs → 422", async () => {
    const csrs = ids(2).map((d) => csrPem(undefined, d));
    const key = unique("idem");
    const first = await post(BATCH, await batchBody(csrs), a, { "idempotency-key": key });
    expect(first.status).toBe(201);
    const before = await counts();
    const resigned = await post(BATCH, await batchBody(csrs), a, { "idempotency-key": key });
    expect(resigned.status).toBe(201);
    expect(resigned.headers.get("idempotent-replayed")).toBe("true");
    expect(resigned.body).toEqual(first.body);
    const other = await post(BATCH, await batchBody([csrPem(undefined, ids(1)[0])]), a, { "idempotency-key": key });
    expect([other.status, (other.body.error as { code: string }).code]).toEqual([422, "idempotency_key_reused"]);
    expect(await counts()).toEqual(before);
  });

  it("Idempotency-Key: retries sent while the batch still runs wait for it and answer its certificates", async () => {
    const csrs = ids(40).map((d) => csrPem(undefined, d));
    const key = unique("idem-race");
    const bodies = await Promise.all([1, 2, 3].map(() => batchBody(csrs)));
    const rs = await Promise.all(bodies.map((body) => post(BATCH, body, a, { "idempotency-key": key })));
    expect(rs.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(rs.filter((r) => r.headers.get("idempotent-replayed") !== "true")).toHaveLength(1);
    for (const r of rs) expect(r.body).toEqual(rs[0].body);
    const serials = (rs[0].body.certificates as { serial: string }[]).map((c) => c.serial);
    expect(await db.certificate.count({ where: { serial: { in: serials } } })).toBe(40);
  });

  it("a key disabled while its batch is being signed: the batch is stored before the disabling, or refused", async () => {
    const t = await tenant(api, unique("Disabling Mfg").replace(/-/g, " "));
    const devices = ids(150);
    const baseline = (await db.auditEvent.findFirst({ orderBy: { id: "desc" }, select: { id: true } }))?.id ?? 0n;
    const body = signPayload(t.key, { csrs: devices.map((d) => csrPem(undefined, d)), ...freshClaims() }, { url: publicUrl(BATCH) });
    const [batch, disabled] = await Promise.all([
      body.then((b) => post(BATCH, b, t)),
      body.then(async () => {
        await new Promise((r) => setTimeout(r, 40));
        return fetch(`${api.url}/api/v1/payload-signing-keys/${t.kid}`, {
          method: "DELETE",
          headers: { authorization: `Bearer ${t.token}` },
        });
      }),
    ]);
    expect(disabled.status).toBe(200);
    const disabling = await db.auditEvent.findFirstOrThrow({ where: { action: "signing_key.disable", target: `signing_key:${t.kid}` } });
    const issued = await db.auditEvent.findMany({
      where: { action: "certificate.issue", outcome: "success", customerId: t.customerId, id: { gt: baseline } },
      select: { id: true },
    });
    if (batch.status === 201) {
      expect(issued).toHaveLength(150);
      // committed while the key was active: every issuance was recorded before the disabling
      expect(issued.every((e) => e.id < disabling.id)).toBe(true);
    } else {
      expect([batch.status, (batch.body.error as { code: string }).code]).toEqual([403, "key_disabled"]);
      expect(issued).toHaveLength(0);
      expect(await db.device.count({ where: { customerId: t.customerId } })).toBe(0);
    }
  });

  it.each([
    [
      "one CSR asking for CA:TRUE (all or nothing)",
      () => {
        const bad = toPem(
          "CERTIFICATE REQUEST",
          createCsr({
            key: generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey,
            subject: [{ oid: "2.5.4.5", value: "dev-ca", encoding: "printable" }],
            extensions: [{ oid: "2.5.29.19", critical: true, value: sequence(boolean(true)) }],
          }),
        );
        return [...ids(2).map((d) => csrPem(undefined, d)), bad];
      },
      400,
      "csr_ca_requested",
    ],
    [
      "a device id twice",
      () => {
        const [d] = ids(1);
        return [csrPem(undefined, d), csrPem(undefined, d)];
      },
      400,
      "device_id_duplicate",
    ],
    [
      "a device id that fails the pattern",
      () => [
        toPem(
          "CERTIFICATE REQUEST",
          createCsr({
            key: generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey,
            subject: [{ oid: "2.5.4.3", value: "bad id!", encoding: "utf8" }],
          }),
        ),
      ],
      400,
      "csr_device_id_invalid",
    ],
    ["more than 1000 CSRs", () => Array.from({ length: 1001 }, () => "x"), 400, "payload_invalid"],
    ["a CSR over 8 KiB", () => [`${csrPem(undefined, ids(1)[0])}${" ".repeat(9000)}`], 400, "csr_too_large"],
  ])("refuses %s and stores nothing", async (_name, make, status, code) => {
    const before = await counts();
    const r = await post(BATCH, await batchBody(make()));
    expect([r.status, (r.body.error as { code: string }).code]).toEqual([status, code]);
    expect(await counts()).toEqual(before);
  });

  it("refuses a device that already enrolled (409) and a body over 2 MiB (413)", async () => {
    const [d] = ids(1);
    expect((await post(BATCH, await batchBody([csrPem(undefined, d)]))).status).toBe(201);
    const before = await counts();
    const again = await post(BATCH, await batchBody([csrPem(undefined, ids(1)[0]), csrPem(undefined, d)]));
    expect([again.status, (again.body.error as { code: string }).code]).toEqual([409, "device_exists"]);
    const huge = await post(BATCH, await signPayload(a.key, { csrs: ["x"], pad: "x".repeat(2200 * 1024), ...freshClaims() }));
    expect([huge.status, (huge.body.error as { code: string }).code]).toEqual([413, "body_too_large"]);
    expect(await counts()).toEqual(before);
  });

  it("the customer-wide deny- and allow-lists hold for the factory's devices too; a refused batch writes nothing", async () => {
    const c = await tenant(api, unique("Listed Mfg").replace(/-/g, " "));
    const [ok, denied, other] = ids(3);
    await setEnrollmentPolicy({ customerId: c.customerId, denyDeviceIds: [denied] }, { type: "system", id: "test" });
    const devices = async () => db.device.count({ where: { customerId: c.customerId } });
    const refusedDeny = await post(BATCH, await batchBody([csrPem(undefined, ok), csrPem(undefined, denied)], c), c);
    expect([refusedDeny.status, (refusedDeny.body.error as { code: string }).code]).toEqual([403, "device_denied"]);
    await setEnrollmentPolicy({ customerId: c.customerId, allowDeviceIds: [ok] }, { type: "system", id: "test" });
    const refusedAllow = await post(BATCH, await batchBody([csrPem(undefined, other)], c), c);
    expect([refusedAllow.status, (refusedAllow.body.error as { code: string }).code]).toEqual([403, "device_not_allowed"]);
    expect(await devices()).toBe(0);
    expect((await post(BATCH, await batchBody([csrPem(undefined, ok)], c), c)).status).toBe(201);
  });

  it("pss factory enroll generates keys and CSRs, calls the API and writes certificates", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-factory-"));
    try {
      const t = await tenant(api, unique("Factory").replace(/-/g, " "));
      const prefix = `${unique("line").slice(0, 30)}-`;
      const r = await factoryEnroll(dir, t, api.url, ["--generate", "3", "--prefix", prefix]);
      if (r.code !== 0) throw new Error(`pss factory enroll failed: ${r.stdout} ${r.stderr}`);
      const out = JSON.parse(r.stdout);
      expect(out.issued).toBe(3);
      for (const i of [1, 2, 3]) {
        expect(fs.readFileSync(path.join(dir, "out", `${prefix}${i}.crt.pem`), "utf8")).toContain("BEGIN CERTIFICATE");
        expect(fs.existsSync(path.join(dir, "out", `${prefix}${i}.key.pem`))).toBe(true);
        expect(fs.readFileSync(path.join(dir, "out", `${prefix}${i}.csr.pem`), "utf8")).toContain("BEGIN CERTIFICATE REQUEST");
      }
      expect(fs.readFileSync(path.join(dir, "out", "chain.pem"), "utf8")).toContain("BEGIN CERTIFICATE");
      expect(await db.device.count({ where: { customerId: t.customerId } })).toBe(3);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("pss factory enroll --generate: a rerun after a batch's answer was lost reuses the keys and gets the stored certificates", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-factory-"));
    const proxy = await lossyProxy(api.url, 2);
    try {
      const t = await tenant(api, unique("Lossy Factory").replace(/-/g, " "));
      const prefix = `${unique("line").slice(0, 30)}-`;
      const args = ["--generate", "5", "--batch-size", "2", "--prefix", prefix];
      const devices = [1, 2, 3, 4, 5].map((i) => `${prefix}${i}`);
      const file = (id: string, kind: "key" | "csr" | "crt") => path.join(dir, "out", `${id}.${kind}.pem`);

      // batch 2 is stored by the server, its answer never arrives: the run fails there
      const first = await factoryEnroll(dir, t, proxy.url, args);
      expect([first.code, JSON.parse(first.stdout).error.code]).toEqual([1, "api_unreachable"]);
      expect(await db.device.count({ where: { customerId: t.customerId } })).toBe(4);
      // every key and CSR was on disk before the first request; certificates only for the answered batch
      for (const id of devices) expect([fs.existsSync(file(id, "key")), fs.existsSync(file(id, "csr"))]).toEqual([true, true]);
      expect(devices.map((id) => fs.existsSync(file(id, "crt")))).toEqual([true, true, false, false, false]);
      const keys = devices.map((id) => fs.readFileSync(file(id, "key"), "utf8"));

      const again = await factoryEnroll(dir, t, proxy.url, args);
      if (again.code !== 0) throw new Error(`the rerun failed: ${again.stdout} ${again.stderr}`);
      expect(proxy.batches()).toBe(2 + 3);
      const out = JSON.parse(again.stdout) as { issued: number; certificates: { deviceId: string; serial: string }[] };
      expect(out.issued).toBe(5);

      // nothing issued twice, and each device's files are one key, its CSR and the certificate the server stored
      const rows = await db.certificate.findMany({ where: { customerId: t.customerId }, include: { device: true } });
      expect(rows).toHaveLength(5);
      expect(await db.device.count({ where: { customerId: t.customerId } })).toBe(5);
      const stored = new Map(rows.map((row) => [row.device?.deviceId, row.serial]));
      const bare = (serial: string) => serial.toLowerCase().replace(/^0+/, "");
      for (const [i, id] of devices.entries()) {
        expect(fs.readFileSync(file(id, "key"), "utf8")).toBe(keys[i]);
        expect(fs.statSync(file(id, "key")).mode & 0o777).toBe(0o600);
        const cert = new X509Certificate(fs.readFileSync(file(id, "crt")));
        expect(bare(cert.serialNumber)).toBe(bare(stored.get(id) ?? "none"));
        expect(out.certificates[i]).toMatchObject({ deviceId: id, serial: stored.get(id) });
        const spki = (k: KeyObject) => k.export({ type: "spki", format: "der" });
        expect(spki(cert.publicKey).equals(spki(createPublicKey(keys[i])))).toBe(true);
        expect(createHash("sha256").update(spki(cert.publicKey)).digest("hex")).toBe(
          parseCsr(fs.readFileSync(file(id, "csr"), "utf8")).spkiSha256,
        );
      }
    } finally {
      await proxy.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("pss factory enroll --generate refuses a CSR in --out without its key, or with another key, and sends nothing", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-factory-"));
    try {
      const t = await tenant(api, unique("Careful Factory").replace(/-/g, " "));
      const id = `${unique("line").slice(0, 30)}-1`;
      fs.mkdirSync(path.join(dir, "out"));
      fs.writeFileSync(path.join(dir, "out", `${id}.csr.pem`), csrPem(undefined, id));
      const args = ["--generate", "1", "--prefix", id.slice(0, -1)];
      const orphan = await factoryEnroll(dir, t, api.url, args);
      expect([orphan.code, JSON.parse(orphan.stdout).error.code]).toEqual([1, "device_key_missing"]);
      fs.writeFileSync(
        path.join(dir, "out", `${id}.key.pem`),
        generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }),
      );
      const other = await factoryEnroll(dir, t, api.url, args);
      expect([other.code, JSON.parse(other.stdout).error.code]).toEqual([1, "device_files_mismatch"]);
      expect(await db.device.count({ where: { customerId: t.customerId } })).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Runs `pss factory enroll --json` for tenant `t` against `apiUrl`, writing to `dir`/out. */
async function factoryEnroll(dir: string, t: TestTenant, apiUrl: string, args: string[]) {
  fs.writeFileSync(path.join(dir, "secret"), t.clientSecret);
  fs.writeFileSync(path.join(dir, "key.pem"), t.key.privateKey.export({ type: "pkcs8", format: "pem" }));
  const argv = [
    "bin/pss.mjs",
    "factory",
    "enroll",
    "--api",
    apiUrl,
    "--client-id",
    t.clientId,
    "--client-secret-file",
    path.join(dir, "secret"),
    "--key",
    path.join(dir, "key.pem"),
    ...args,
    "--out",
    path.join(dir, "out"),
    "--json",
  ];
  return promisify(execFile)(process.execPath, argv, { encoding: "utf8" }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code?: number; stdout: string; stderr: string }) => ({ code: e.code ?? -1, stdout: e.stdout, stderr: e.stderr }),
  );
}

/**
 * A proxy in front of the API that passes everything through, except the answer to the `drop`-th manufacturing
 * batch: the server stores that batch, and the proxy closes the client's connection instead of answering (a
 * reply lost on the way). The Host header goes through unchanged, so payloads signed for the proxy's URL verify.
 */
async function lossyProxy(target: string, drop: number) {
  let batches = 0;
  const server = http.createServer((req, res) => {
    const n = req.method === "POST" && req.url === BATCH ? ++batches : 0;
    const upstream = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      if (n === drop) {
        answer.resume();
        answer.on("end", () => req.socket.destroy());
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    batches: () => batches,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe(`devices and bootstrap revocation (${dbLabel()})`, () => {
  const get = async (q: string, t: TestTenant = a) => {
    const res = await fetch(`${api.url}/api/v1/devices${q}`, { headers: { authorization: `Bearer ${t.token}` } });
    return { status: res.status, body: (await res.json()) as { devices: { deviceId: string; uid: string }[]; nextCursor: string | null } };
  };

  it("lists the customer's devices with keyset pagination; another customer sees none of them", async () => {
    const all: string[] = [];
    let cursor = "";
    for (let page = 0; page < 50; page++) {
      const r = await get(`?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(r.status).toBe(200);
      expect(r.body.devices.length).toBeLessThanOrEqual(2);
      all.push(...r.body.devices.map((d) => d.deviceId));
      if (!r.body.nextCursor) break;
      cursor = encodeURIComponent(r.body.nextCursor);
    }
    expect(all.length).toBe(await db.device.count({ where: { customerId: a.customerId } }));
    expect(new Set(all).size).toBe(all.length);
    const theirs = await get("?limit=100", b);
    expect(theirs.body.devices.filter((d) => all.includes(d.deviceId))).toEqual([]);
    const one = await get(`?q=${all[0]}&uid=${a.uid}`);
    expect(one.body.devices.map((d) => d.deviceId)).toEqual([all[0]]);
    // ?uid= narrows in the query itself: full pages through every device of that user; none for another UID
    const byUid: string[] = [];
    cursor = "";
    for (let page = 0; page < 50; page++) {
      const r = await get(`?limit=2&uid=${a.uid}${cursor ? `&cursor=${cursor}` : ""}`);
      if (r.body.nextCursor) expect(r.body.devices.length).toBe(2);
      byUid.push(...r.body.devices.map((d) => d.deviceId));
      if (!r.body.nextCursor) break;
      cursor = encodeURIComponent(r.body.nextCursor);
    }
    expect(byUid.length).toBe(await db.device.count({ where: { customerId: a.customerId, uid: a.uid } }));
    expect((await get(`?uid=${b.uid}`)).body).toEqual({ devices: [], nextCursor: null });
    expect((await get("?status=bogus")).status).toBe(400);
    expect((await get("?cursor=garbage")).status).toBe(400);
    // every device here holds a fresh one-year certificate: expiring within 400 days lists them all, soonest first
    const soon = await get("?expiring=400&limit=100");
    expect(soon.status).toBe(200);
    expect(soon.body.devices.map((d) => d.deviceId).sort()).toEqual([...all].sort());
    const expiries = (soon.body.devices as unknown as { notAfter: string }[]).map((d) => d.notAfter);
    expect(expiries).toEqual([...expiries].sort());
    expect((await get("?expiring=30")).body.devices).toEqual([]);
    expect((await get("?status=quarantined")).body.devices).toEqual([]);
    expect((await get("?expiring=0")).status).toBe(400);
  });

  it("revokes a leaked bootstrapping certificate and the Client TLS certificates it enrolled after a moment", async () => {
    const boot = await post(
      "/api/v1/bootstrap-certificates",
      await signPayload(a.key, { csr: csrPem(), ...freshClaims() }, { url: publicUrl("/api/v1/bootstrap-certificates") }),
    );
    const serial = boot.body.serial as string;
    const bootRow = await db.certificate.findUniqueOrThrow({ where: { serial } });
    const enroll = (id: string) =>
      issueAndStore({
        profile: "client-tls",
        csr: csrPem(undefined, id),
        customerId: a.customerId,
        uid: a.uid,
        device: "create",
        enrolledById: bootRow.id,
        authorizedBy: `bootstrap:${serial}`,
        actor: { type: "system", id: "test" },
      });
    const [early, late1, late2] = [await enroll(ids(1)[0]), await enroll(ids(1)[0]), await enroll(ids(1)[0])];
    const past = new Date(Date.now() - 3600_000);
    await db.device.update({
      where: { id: (await db.certificate.findUniqueOrThrow({ where: { serial: early.serialHex } })).deviceRef! },
      data: { enrolledAt: past },
    });
    await db.certificate.update({ where: { serial: early.serialHex }, data: { createdAt: past } });
    const after = new Date(Date.now() - 600_000).toISOString();
    const foreign = await post(
      `/api/v1/bootstrap-certificates/${serial}/revoke`,
      JSON.stringify({ alsoRevokeDevicesEnrolledAfter: after }),
      b,
      { "content-type": "application/json" },
    );
    expect(foreign.status).toBe(404);
    const r = await post(
      `/api/v1/bootstrap-certificates/${serial}/revoke`,
      JSON.stringify({ reason: "keyCompromise", alsoRevokeDevicesEnrolledAfter: after }),
      a,
      { "content-type": "application/json" },
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ serial, reason: "keyCompromise", alreadyRevoked: false });
    expect((r.body.revokedClientTlsSerials as string[]).sort()).toEqual([late1.serialHex, late2.serialHex].sort());
    const rows = await db.certificate.findMany({ where: { serial: { in: [serial, early.serialHex, late1.serialHex, late2.serialHex] } } });
    expect(Object.fromEntries(rows.map((x) => [x.serial, x.revokedAt !== null]))).toEqual({
      [serial]: true,
      [early.serialHex]: false,
      [late1.serialHex]: true,
      [late2.serialHex]: true,
    });
    // a Client TLS serial is not a bootstrapping certificate
    expect(
      (await post(`/api/v1/bootstrap-certificates/${early.serialHex}/revoke`, "{}", a, { "content-type": "application/json" })).status,
    ).toBe(404);
    expect((await post(`/api/v1/bootstrap-certificates/${serial}/revoke`, "{}", a, { "content-type": "application/json" })).status).toBe(
      409,
    );
  });
});
