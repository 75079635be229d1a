// End to end over real TLS on localhost: the device SDK, and separately curl + openssl, enroll, rotate and get
// a c2pa certificate; every resulting chain passes `openssl verify`. The SDK completes an enrollment or a rotation
// whose answer was lost after the service committed (a TCP proxy that drops it, another process holding the lock).
import { execFile } from "node:child_process";
import fs from "node:fs";
import net, { type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setEnrollmentPolicy } from "../../lib/data/enrollment/manage-policy.ts";
import { db } from "../../lib/db/client.ts";
import { Device, fetchCaCerts } from "../../lib/device-sdk/index.ts";
import { readCertsOnly } from "../../lib/pki/pkcs7.ts";
import { opensslAsync, scratchDir } from "../../lib/pki/testing/ca-fixture.ts";
import { testDb } from "../../tests/db.ts";
import { est, type Listener, newBootstrap, newCustomer, startListener, system } from "./testing.ts";

testDb();
let l: Listener;
const scratch = scratchDir();
beforeAll(async () => {
  l = await startListener();
});
afterAll(async () => {
  await l.close();
  scratch.cleanup();
});

async function verify(certFile: string, chainFile: string) {
  const r = await opensslAsync(["verify", "-CAfile", scratch.write("root.pem", l.rootPem), "-untrusted", chainFile, certFile]);
  expect(r.out).toContain(": OK");
  expect(r.code).toBe(0);
}

function run(cmd: string, args: string[], input?: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: "latin1", timeout: 30_000, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error);
      resolve({ code: error ? Number(error.code) : 0, out: stdout, err: stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

describe("device SDK", () => {
  it("cacerts without a client certificate: PKCS#7 certs-only with the root", async () => {
    const r = await est(l, "cacerts", null);
    expect(r.status).toBe(200);
    expect(r.res?.contentType).toBe("application/pkcs7-mime; smime-type=certs-only");
    const certs = readCertsOnly(r.res!.body.toString("latin1"));
    expect(certs.length).toBeGreaterThanOrEqual(2);
    const pems = await fetchCaCerts({ url: l.url, ca: l.rootPem });
    expect(pems.at(-1)?.replace(/\s/g, "")).toBe(l.rootPem.replace(/\s/g, ""));
  });

  it("enrolls, rotates (old valid until the new one is used), gets a c2pa certificate", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    const dir = `${scratch.dir}/sdk-device`;
    const device = await Device.enroll({
      dir,
      url: l.url,
      ca: l.rootPem,
      bootstrapCert: boot.chainPem,
      bootstrapKey: boot.keyPem,
      deviceId: "cam-0001",
    });
    for (const f of ["device.key", "device.crt", "device-chain.pem", "ca.pem", "state.json"]) {
      expect(fs.statSync(`${dir}/${f}`).mode & 0o777).toBe(0o600);
    }
    await verify(device.file("device.crt"), device.file("device-chain.pem"));
    const row = await db().device.findUniqueOrThrow({
      where: { customerId_deviceId: { customerId: c.customer.id, deviceId: "cam-0001" } },
    });
    expect(row.enrolledById).toBe(boot.id);
    const first = device.status();
    expect(first.rotationDue).toBe(false);
    expect(device.rotationDue(new Date(Date.now() + 30 * 86_400_000))).toBe(true);

    const oldChain = fs.readFileSync(device.file("device-chain.pem"), "utf8");
    const oldKey = fs.readFileSync(device.file("device.key"), "utf8");
    expect(await device.rotate()).toBe(false); // not due
    // what a device runs at boot: nothing while not due
    expect(await device.start()).toEqual({ rotated: false });
    expect(device.status().serial).toBe(first.serial);
    expect(await device.rotate({ force: true })).toBe(true);
    const second = device.status();
    expect(second.serial).not.toBe(first.serial);
    await verify(device.file("device.crt"), device.file("device-chain.pem"));
    const newRow = await db().certificate.findUniqueOrThrow({ where: { serial: second.serial } });
    const oldRow = await db().certificate.findUniqueOrThrow({ where: { serial: first.serial } });
    expect(newRow.replacesId).toBe(oldRow.id);
    expect(oldRow.revokedAt).toBeNull();
    // the old certificate still works (cacerts with it adds the customer's issuing CA) until the new one is used
    expect((await est(l, "cacerts", { chainPem: oldChain, keyPem: oldKey })).status).toBe(200);

    const app = await device.applicationCertificate("c2pa");
    expect(app.cert.subject).toContain("CN=cam-0001");
    await verify(app.certFile, device.file("c2pa-chain.pem"));
    // the new certificate has been used: the old one is revoked as superseded and refused
    const oldAfter = await db().certificate.findUniqueOrThrow({ where: { serial: first.serial } });
    expect(oldAfter.revocationReason).toBe("superseded");
    const stale = await est(l, "simplereenroll", { chainPem: oldChain, keyPem: oldKey }, "MA==");
    expect(stale.status).toBe(403);
    // renewal of the application certificate
    const renewed = await device.applicationCertificate("c2pa");
    expect(renewed.cert.serialNumber).not.toBe(app.cert.serialNumber);
    // the pss-device command line on the same state directory
    const cli = await run(process.execPath, ["bin/pss-device.mjs", "rotate", "--force", "--dir", dir, "--json"]);
    expect(cli.code, cli.err).toBe(0);
    expect(JSON.parse(cli.out)).toMatchObject({ rotated: true, deviceId: "cam-0001", rotationDue: false });
    // pss-device start on a device not due: no rotation
    const idle = await run(process.execPath, ["bin/pss-device.mjs", "start", "--dir", dir, "--json"]);
    expect(idle.code, idle.err).toBe(0);
    expect(JSON.parse(idle.out)).toMatchObject({ rotated: false, serial: JSON.parse(cli.out).serial });
    // a boot 31 days on: due, so it rotates, and the new certificate replaces the one before
    const before = device.status().serial;
    expect(await device.start(new Date(Date.now() + 31 * 86_400_000))).toEqual({ rotated: true });
    const after = device.status().serial;
    expect(after).not.toBe(before);
    const [newest, previous] = await Promise.all([
      db().certificate.findUniqueOrThrow({ where: { serial: after } }),
      db().certificate.findUniqueOrThrow({ where: { serial: before } }),
    ]);
    expect(newest.replacesId).toBe(previous.id);
  });
});

describe("curl + openssl as the device", () => {
  it("enrolls, rotates and gets a c2pa certificate", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    const f = (n: string) => `${scratch.dir}/${n}`;
    scratch.write("boot.key", boot.keyPem);
    scratch.write("boot.pem", boot.chainPem);
    const root = scratch.write("root.pem", l.rootPem);
    const url = `${l.url}/.well-known/est`;

    // cacerts, no client certificate; the header names as libest looks them up (case-sensitively), with a length
    const ca = await run("curl", ["-sS", "--fail-with-body", "--cacert", root, "-D", f("cacerts.headers"), `${url}/cacerts`]);
    expect(ca.code).toBe(0);
    const headers = fs.readFileSync(f("cacerts.headers"), "utf8");
    expect(headers).toMatch(/^Content-Type: application\/pkcs7-mime; smime-type=certs-only\r$/m);
    expect(headers).toMatch(/^Content-Transfer-Encoding: base64\r$/m);
    expect(headers).toContain(`Content-Length: ${Buffer.byteLength(ca.out)}\r`);
    expect(headers).not.toMatch(/chunked/i);
    scratch.write("cacerts.b64", ca.out);
    const p7 = await run("sh", ["-c", `openssl base64 -d -in ${f("cacerts.b64")} | openssl pkcs7 -inform DER -print_certs`]);
    expect(p7.out).toContain("TLS Root CA");

    const enroll = async (op: string, certFile: string, keyFile: string, name: string, deviceId: string) => {
      await opensslAsync(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f(`${name}.key`)]);
      const csr = await opensslAsync([
        "req",
        "-new",
        "-key",
        f(`${name}.key`),
        "-subj",
        `/CN=${deviceId}/serialNumber=${deviceId}`,
        "-outform",
        "DER",
        "-out",
        f(`${name}.csr`),
      ]);
      expect(csr.code).toBe(0);
      await opensslAsync(["base64", "-in", f(`${name}.csr`), "-out", f(`${name}.b64`)]);
      const r = await run("curl", [
        "-sS",
        "--fail-with-body",
        "--cacert",
        root,
        "--cert",
        certFile,
        "--key",
        keyFile,
        "-H",
        "Content-Type: application/pkcs10",
        "--data-binary",
        `@${f(`${name}.b64`)}`,
        "-o",
        f(`${name}.p7.b64`),
        `${url}/${op}`,
      ]);
      expect(r.code, r.out + r.err).toBe(0);
      const pem = await run("sh", [
        "-c",
        `openssl base64 -d -in ${f(`${name}.p7.b64`)} | openssl pkcs7 -inform DER -print_certs -out ${f(`${name}.crt`)}`,
      ]);
      expect(pem.code).toBe(0);
      // the issuing CA: cacerts of the same path, asked with a Client TLS certificate of the customer
      const asker = op.includes("c2pa") ? `--cert ${certFile} --key ${keyFile}` : `--cert ${f(`${name}.crt`)} --key ${f(`${name}.key`)}`;
      const chain = await run("sh", [
        "-c",
        `curl -sS --fail-with-body --cacert ${root} ${asker} ${url}/${op.includes("c2pa") ? "c2pa/" : ""}cacerts | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out ${f(`${name}-ca.pem`)}`,
      ]);
      expect(chain.code).toBe(0);
      const v = await opensslAsync(["verify", "-CAfile", root, "-untrusted", f(`${name}-ca.pem`), f(`${name}.crt`)]);
      expect(v.out).toContain(": OK");
      return f(`${name}.crt`);
    };

    const first = await enroll("simpleenroll", f("boot.pem"), f("boot.key"), "dev1", "meter-17");
    // present the client certificate with its issuing CA
    const chain1 = scratch.write("dev1-full.pem", fs.readFileSync(first, "utf8") + fs.readFileSync(f("dev1-ca.pem"), "utf8"));
    const second = await enroll("simplereenroll", chain1, f("dev1.key"), "dev2", "meter-17");
    const chain2 = scratch.write("dev2-full.pem", fs.readFileSync(second, "utf8") + fs.readFileSync(f("dev2-ca.pem"), "utf8"));
    await enroll("c2pa/simpleenroll", chain2, f("dev2.key"), "c2pa", "meter-17");

    // the PEM chain form
    await opensslAsync(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f("dev3.key")]);
    await opensslAsync(["req", "-new", "-key", f("dev3.key"), "-subj", "/CN=meter-17", "-out", f("dev3.csr")]);
    const pemChain = await run("curl", [
      "-sS",
      "--fail-with-body",
      "--cacert",
      root,
      "--cert",
      chain2,
      "--key",
      f("dev2.key"),
      "-H",
      "Accept: application/pem-certificate-chain",
      "--data-binary",
      `@${f("dev3.csr")}`,
      `${url}/c2pa/simpleenroll`,
    ]);
    expect(pemChain.code, pemChain.out).toBe(0);
    scratch.write("dev3-chain.pem", pemChain.out);
    const v = await opensslAsync(["verify", "-CAfile", root, "-untrusted", f("dev3-chain.pem"), f("dev3-chain.pem")]);
    expect(v.out).toContain(": OK");
  });

  it("openssl s_client: cacerts over TLS 1.3 and TLS 1.2 without a client certificate", async () => {
    for (const v of ["-tls1_3", "-tls1_2"]) {
      const port = new URL(l.url).port;
      const r = await run("sh", [
        "-c",
        `printf 'GET /.well-known/est/cacerts HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' | openssl s_client ${v} -quiet -connect 127.0.0.1:${port} -servername localhost -CAfile ${scratch.write("root.pem", l.rootPem)} 2>&1`,
      ]);
      expect(r.out).toContain("200 OK");
    }
  });
});

describe("TLS", () => {
  it("TLS 1.2 offers forward-secret AEAD suites only; TLS 1.1 is refused", async () => {
    const u = new URL(l.url);
    const root = scratch.write("tls-root.pem", l.rootPem);
    const handshake = (...args: string[]) =>
      run("openssl", ["s_client", "-connect", `${u.hostname}:${u.port}`, "-CAfile", root, "-verify_return_error", ...args], "");
    const gcm = await handshake("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256");
    expect(gcm.out).toMatch(/Cipher is ECDHE-ECDSA-AES128-GCM-SHA256/);
    for (const cipher of ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-CCM8"]) {
      const r = await handshake("-tls1_2", "-cipher", cipher);
      expect(r.out, cipher).not.toMatch(/Cipher is ECDHE/);
    }
    expect((await handshake("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")).out).not.toMatch(/Cipher is ECDHE/);
    expect((await handshake("-tls1_3")).out).toMatch(/TLSv1\.3/);
  });
});

/**
 * A TCP proxy in front of the listener that can lose an answer: armed, it relays the request, and once the
 * listener starts its answer (the issuance has committed by then) it closes both connections instead of relaying
 * it — what a device sees when the network drops at that moment.
 */
async function lossyProxy(target: Listener) {
  let losing = false;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(new URL(target.url).port), "127.0.0.1");
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("error", () => {});
      s.on("close", () => open.delete(s));
    }
    client.pipe(upstream);
    upstream.on("data", (d: Buffer) => {
      if (!losing) return void client.write(d);
      losing = false;
      client.destroy();
      upstream.destroy();
    });
    upstream.on("end", () => client.end());
    client.on("close", () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `https://localhost:${(server.address() as AddressInfo).port}`,
    /** Lose the answer to the listener's next request. */
    loseNextAnswer: () => onNextAnswer(target, () => (losing = true)),
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Runs `fn` when the listener starts answering its next request: its work is done and committed by then. */
function onNextAnswer(target: Listener, fn: () => void) {
  target.server.prependOnceListener("request", (_req, res) => {
    const writeHead = res.writeHead;
    res.writeHead = function (this: typeof res, ...args: Parameters<typeof res.writeHead>) {
      fn();
      return writeHead.apply(this, args);
    } as typeof res.writeHead;
  });
}

describe("device SDK: an answer lost after the service committed", () => {
  let proxy: Awaited<ReturnType<typeof lossyProxy>>;
  beforeAll(async () => {
    proxy = await lossyProxy(l);
  });
  afterAll(() => proxy.close());

  const clientTls = (customerId: string) =>
    db().certificate.findMany({ where: { customerId, kind: "CLIENT_TLS" }, orderBy: { createdAt: "asc" } });
  const pendingFile = (dir: string) => `${dir}/device-pending.json`;

  async function enrollThroughProxy(deviceId: string) {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    const dir = `${scratch.dir}/${deviceId}`;
    const input = { dir, url: proxy.url, ca: l.rootPem, bootstrapCert: boot.chainPem, bootstrapKey: boot.keyPem, deviceId };
    return { c, boot, dir, input };
  }

  it("a lost rotation: the next start() sends the same key again and stores the certificate the service issued", async () => {
    const { c, dir, input } = await enrollThroughProxy("lost-rot-1");
    const device = await Device.enroll(input);
    const first = device.status().serial;
    const oldKey = fs.readFileSync(device.file("device.key"), "utf8");

    proxy.loseNextAnswer();
    await expect(device.rotate({ force: true })).rejects.toThrow();
    // the service committed: the device's newest certificate is one the device never received
    const [old, lost, ...more] = await clientTls(c.customer.id);
    expect(more).toEqual([]);
    expect(old.serial).toBe(first);
    expect(lost.replacesId).toBe(old.id);
    // the device still works with its current files, and holds the new key as pending
    expect(device.status().serial).toBe(first);
    expect(fs.readFileSync(device.file("device.key"), "utf8")).toBe(oldKey);
    expect(fs.statSync(pendingFile(dir)).mode & 0o777).toBe(0o600);

    // not due, not forced: the pending rotation is what start() completes
    expect(await device.start()).toEqual({ rotated: true });
    expect(device.status().serial).toBe(lost.serial);
    expect(fs.existsSync(pendingFile(dir))).toBe(false);
    await verify(device.file("device.crt"), device.file("device-chain.pem"));
    expect((await clientTls(c.customer.id)).map((r) => r.serial)).toEqual([first, lost.serial]);
    // answered as a repeat, not refused as a clone
    expect(await db().auditEvent.count({ where: { action: "clone_suspected", target: `certificate:${first}` } })).toBe(0);
    const repeat = await db().auditEvent.findFirstOrThrow({
      where: { action: "certificate.issue_repeated", target: `certificate:${lost.serial}` },
    });
    expect(repeat).toMatchObject({ outcome: "success", actorId: first, customerId: c.customer.id });
    expect(repeat.details).toMatchObject({ request: "simplereenroll", deviceId: "lost-rot-1", authorizedBy: `client-tls:${first}` });
    // the certificate is the device's now: using it retires the old one, and the next rotation is an ordinary one
    expect(await device.rotate({ force: true })).toBe(true);
    expect(await db().certificate.findUniqueOrThrow({ where: { id: old.id } })).toMatchObject({ revocationReason: "superseded" });
    expect(await clientTls(c.customer.id)).toHaveLength(3);
  });

  it("a lost enrollment under a budget of one: enrolling again gets the same certificate, and the credential is not quarantined", async () => {
    const { c, boot, dir, input } = await enrollThroughProxy("lost-enr-1");
    await setEnrollmentPolicy({ customerId: c.customer.id, bootstrapSerial: boot.serial, maxEnrollments: 1 }, system);
    proxy.loseNextAnswer();
    await expect(Device.enroll(input)).rejects.toThrow();
    const [issued, ...more] = await clientTls(c.customer.id);
    expect(more).toEqual([]);
    expect(fs.existsSync(`${dir}/state.json`)).toBe(false);
    expect(fs.statSync(pendingFile(dir)).mode & 0o777).toBe(0o600);

    const device = await Device.enroll(input);
    expect(device.status().serial).toBe(issued.serial);
    expect(fs.existsSync(pendingFile(dir))).toBe(false);
    await verify(device.file("device.crt"), device.file("device-chain.pem"));
    expect(await clientTls(c.customer.id)).toHaveLength(1);
    expect(await db().device.count({ where: { customerId: c.customer.id } })).toBe(1);
    expect((await db().certificate.findUniqueOrThrow({ where: { id: boot.id } })).quarantinedAt).toBeNull();
    const repeat = await db().auditEvent.findFirstOrThrow({
      where: { action: "certificate.issue_repeated", target: `certificate:${issued.serial}` },
    });
    expect(repeat.details).toMatchObject({ request: "simpleenroll", authorizedBy: `bootstrap:${boot.serial}` });
    // the device works with it
    expect(await device.rotate({ force: true })).toBe(true);
  });

  it("an answer that arrives while another process holds the lock: the next enroll() stores the same certificate", async () => {
    const { c, dir, input } = await enrollThroughProxy("busy-enr-1");
    // another process takes the directory's lock while the request is in flight
    onNextAnswer(l, () => fs.writeFileSync(`${dir}/replace.lock`, ""));
    await expect(Device.enroll(input)).rejects.toMatchObject({ code: "state_busy" });
    const [issued] = await clientTls(c.customer.id);
    fs.rmSync(`${dir}/replace.lock`);
    const device = await Device.enroll(input);
    expect(device.status().serial).toBe(issued.serial);
    expect(await clientTls(c.customer.id)).toHaveLength(1);
  });

  it("a pending key that cannot be written (the lock is held) fails the rotation before anything is sent", async () => {
    const { c, dir, input } = await enrollThroughProxy("busy-rot-1");
    const device = await Device.enroll(input);
    fs.writeFileSync(`${dir}/replace.lock`, "");
    await expect(device.rotate({ force: true })).rejects.toMatchObject({ code: "state_busy" });
    fs.rmSync(`${dir}/replace.lock`);
    expect(fs.existsSync(pendingFile(dir))).toBe(false);
    expect(await clientTls(c.customer.id)).toHaveLength(1);
    expect(await device.rotate({ force: true })).toBe(true);
    expect(await clientTls(c.customer.id)).toHaveLength(2);
  });
});
