// Device SDK (SPEC §5): what a device maker's firmware team uses on a Linux device to talk EST to PSS.
// Generate a key, build a CSR, enroll with the factory bootstrapping certificate, rotate the Client TLS
// certificate when due (and at start), fetch application certificates (c2pa). Keys and certificates are
// written atomically with mode 0600 in one directory:
//
//   state.json            server URL and file names
//   ca.pem                the TLS Root CA (trust anchor for the server and the chains)
//   device.key / .crt     current Client TLS key and certificate; device-chain.pem = certificate + intermediates
//   <profile>.key / .crt  application key and certificate (c2pa.key, c2pa.crt, c2pa-chain.pem)
//   device-pending.json   the key of an enrollment or rotation sent but not yet stored (see "Retries" below)
//
// Only node:crypto, node:https and node:fs: no database, no Next.js.
import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { replaceFile, syncDir } from "../durable-files.ts";
import { createCsr } from "../pki/csr.ts";
import { oid, sequence, set, utf8String } from "../pki/der.ts";
import { newPrivateKey } from "../pki/keygen.ts";
import { OID_CN, OID_SERIAL_NUMBER } from "../pki/names.ts";
import { readCertsOnly } from "../pki/pkcs7.ts";

export const ROTATE_AFTER_DAYS = 29; // one day of slack before the service's 30-day "rotation overdue"
const DAY = 86_400_000;
const OID_CHALLENGE_PASSWORD = "1.2.840.113549.1.9.7";

export type KeyType = "p256" | "p384" | "ed25519";

export class EstError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** 429: seconds until the service accepts this bootstrapping certificate's enrollments again */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "EstError";
  }
}

/** A request (connect, TLS handshake, answer) that takes longer fails with EstError code "timeout". */
export const DEFAULT_TIMEOUT_MS = 30_000;

// ---- building blocks ------------------------------------------------------------------------------------

export function generateKey(type: KeyType = "p256"): KeyObject {
  return newPrivateKey(type);
}

/** A PKCS#10 request for a device: subject CN = serialNumber = device id, optional one-time secret. */
export function buildCsr(input: { key: KeyObject; deviceId: string; challengePassword?: string }): Buffer {
  const attributes = input.challengePassword ? [sequence(oid(OID_CHALLENGE_PASSWORD), set(utf8String(input.challengePassword)))] : [];
  return createCsr({
    key: input.key,
    subject: [
      { oid: OID_CN, value: input.deviceId, encoding: "utf8" },
      { oid: OID_SERIAL_NUMBER, value: input.deviceId, encoding: "printable" },
    ],
    attributes,
  });
}

export type EstConnection = {
  /** https://host:port of the device listener */
  url: string;
  /** PEM of the TLS Root CA */
  ca: string;
  /** client certificate (PEM, may include intermediates) and key (PEM) */
  cert?: string;
  key?: string;
  /** the whole request's deadline (default DEFAULT_TIMEOUT_MS) */
  timeoutMs?: number;
  /** the local address to connect from (a device with several interfaces) */
  localAddress?: string;
};

export type EstResponse = { status: number; contentType: string; body: Buffer };

/** One EST request (new TLS connection). Non-2xx answers throw EstError with the service's code. */
export function estRequest(
  conn: EstConnection,
  op: string,
  opts: { method?: "GET" | "POST"; body?: string; accept?: string } = {},
): Promise<EstResponse> {
  const u = new URL(conn.url);
  const timeoutMs = conn.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise<EstResponse>((resolve, reject) => {
    const req = https.request(
      {
        host: u.hostname,
        port: u.port || 443,
        path: `/.well-known/est/${op}`,
        method: opts.method ?? (opts.body === undefined ? "GET" : "POST"),
        ca: conn.ca,
        ...(conn.cert && conn.key ? { cert: conn.cert, key: conn.key } : {}),
        agent: false,
        ...(conn.localAddress ? { localAddress: conn.localAddress } : {}),
        minVersion: "TLSv1.2",
        headers: {
          ...(opts.body === undefined ? {} : { "content-type": "application/pkcs10", "content-length": Buffer.byteLength(opts.body) }),
          ...(opts.accept ? { accept: opts.accept } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve({ status, contentType: String(res.headers["content-type"] ?? ""), body });
          let code = "http_error";
          let message = `HTTP ${status}`;
          try {
            const e = JSON.parse(body.toString("utf8")).error;
            code = e.code;
            message = e.message;
          } catch {}
          const retryAfter = Number(res.headers["retry-after"]);
          reject(new EstError(status, code, message, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined));
        });
        res.on("error", reject);
      },
    );
    // an absolute deadline: a server that trickles bytes must not hold the device either
    const timer = setTimeout(
      () => req.destroy(new EstError(0, "timeout", `no complete answer from ${u.host} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on("close", () => clearTimeout(timer));
    req.on("error", reject);
    req.end(opts.body);
  });
}

const pemOf = (der: Uint8Array) =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n?$/, "\n")}-----END CERTIFICATE-----\n`;

/** GET cacerts: the CA certificates (PEM) of the default path or an application profile's. */
export async function fetchCaCerts(conn: EstConnection, profile?: string): Promise<string[]> {
  const res = await estRequest(conn, profile ? `${profile}/cacerts` : "cacerts");
  return readCertsOnly(res.body.toString("latin1")).map(pemOf);
}

/** POST an enrollment; returns the certificate and its chain (issuer first, without the root) as PEM. */
export async function enrollRequest(conn: EstConnection, op: string, csrDer: Buffer): Promise<{ cert: string; chain: string[] }> {
  const body = csrDer.toString("base64").replace(/(.{64})/g, "$1\n");
  const res = await estRequest(conn, op, { body, accept: "application/pem-certificate-chain" });
  const [cert, ...chain] = res.body.toString("utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
  if (!cert) throw new EstError(res.status, "bad_response", "the answer holds no certificate");
  return { cert, chain };
}

// ---- files ------------------------------------------------------------------------------------------------

/** Write a file with mode 0600, durably and atomically: a temporary file, flushed, then renamed over the old one. */
export function writePrivate(file: string, data: string | Buffer): void {
  replaceFile(file, data, 0o600);
}

// A key and its certificate are replaced together or not at all: a power cut between writing a new key and its
// certificate must not leave a device whose key no longer matches the certificate it presents. Under a lock file
// (two processes on one directory — `start` from a timer while `app-cert` runs — take turns), the new files are
// written whole as `<name>.next`; then COMMIT names them (one atomic rename, flushed: from here the new set wins);
// then they are renamed into place and COMMIT is removed. Opening the device, and every replacement, first finishes a
// commit a crash interrupted; a crash before COMMIT leaves the old set in place (the `.next` files are overwritten by
// the next attempt).
const COMMIT = "commit.json";
const LOCK = "replace.lock";
// a lock older than this was left by a process that died holding it
const STALE_LOCK_MS = 60_000;

/** Run `fn` holding the directory's lock file; refuses while another live process holds it. */
function withLock<T>(dir: string, fn: () => T): T {
  const lock = path.join(dir, LOCK);
  let fd: number;
  try {
    fd = fs.openSync(lock, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    if (Date.now() - fs.statSync(lock).mtimeMs < STALE_LOCK_MS)
      throw new EstError(0, "state_busy", `another process is replacing the device's files in ${dir}; try again`);
    fs.rmSync(lock, { force: true });
    fd = fs.openSync(lock, "wx", 0o600);
  }
  try {
    return fn();
  } finally {
    fs.closeSync(fd);
    fs.rmSync(lock, { force: true });
  }
}

/** Replace a set of files in `dir` together (see above); then remove `done` (files the new set makes obsolete). */
export function replaceTogether(dir: string, files: Record<string, string | Buffer>, done: string[] = []): void {
  withLock(dir, () => {
    finishReplace(dir);
    for (const [name, data] of Object.entries(files)) writePrivate(path.join(dir, `${name}.next`), data);
    syncDir(dir);
    writePrivate(path.join(dir, COMMIT), JSON.stringify(Object.keys(files)));
    syncDir(dir);
    finishReplace(dir);
    for (const name of done) fs.rmSync(path.join(dir, name), { force: true });
    if (done.length) syncDir(dir);
  });
}

/** Finish a replacement COMMIT names, if a crash interrupted one. */
export function finishReplace(dir: string): void {
  const commit = path.join(dir, COMMIT);
  if (!fs.existsSync(commit)) return;
  const names = JSON.parse(fs.readFileSync(commit, "utf8")) as unknown;
  if (!Array.isArray(names) || !names.every((n) => typeof n === "string" && /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(n)))
    throw new EstError(0, "state_invalid", `${commit} is not a list of file names`);
  for (const name of names) {
    const next = path.join(dir, `${name}.next`);
    if (fs.existsSync(next)) fs.renameSync(next, path.join(dir, name));
  }
  syncDir(dir);
  fs.unlinkSync(commit);
}

// Retries. The service may commit an enrollment or a rotation whose answer never reaches the device (a timeout, a
// dropped connection) or is not stored (a full disk, state_busy, a crash). A rotation's new certificate is then the
// device's newest, for a key nobody holds: a rotation with the old one again would be refused as a suspected
// clone, and 72 h on the old one is revoked; a second enrollment would be refused (409 device_exists). So the new
// key is on disk before the request leaves — device-pending.json (0600, flushed), written under the lock, naming
// the request it belongs to — and the next attempt at that request (enroll, rotate, start) sends a CSR for the same
// key, which the service answers with the certificate it issued then (only the key's holder can sign that CSR).
// The pending key is removed with the replacement that stores its certificate. A pending key of another request
// (another device id, server or key type, a rotation of a certificate no longer current) is replaced by a new one.
const PENDING = "device-pending.json";

type PendingRequest = { op: "simpleenroll" | "simplereenroll"; url: string; deviceId: string; keyType: KeyType; replaces?: string };

const samePublicKey = (a: KeyObject, b: KeyObject) =>
  createPublicKey(a)
    .export({ type: "spki", format: "der" })
    .equals(createPublicKey(b).export({ type: "spki", format: "der" }));

/** The pending key of `want`, if device-pending.json holds one (and it is not the current device.key already). */
function readPending(dir: string, want: PendingRequest): KeyObject | null {
  let key: KeyObject;
  try {
    const found = JSON.parse(fs.readFileSync(path.join(dir, PENDING), "utf8")) as PendingRequest & { key: string };
    if (!(["op", "url", "deviceId", "keyType", "replaces"] as const).every((k) => found[k] === want[k])) return null;
    key = createPrivateKey(found.key);
  } catch {
    // none; or damaged (it is written atomically, so only by the disk): nothing to reuse, a new key is the way on
    return null;
  }
  // its certificate was stored, and a crash came before the pending file was removed
  const current = path.join(dir, "device.key");
  if (fs.existsSync(current) && samePublicKey(key, createPrivateKey(fs.readFileSync(current)))) return null;
  return key;
}

/**
 * The key for `want`: its pending key when there is one, else a new one, written as pending before it is returned
 * (under the lock, flushed). Throws — before anything was sent — when it cannot be written.
 */
function pendingKey(dir: string, want: PendingRequest): KeyObject {
  return withLock(dir, () => {
    finishReplace(dir);
    const pending = readPending(dir, want);
    if (pending) return pending;
    const key = generateKey(want.keyType);
    writePrivate(path.join(dir, PENDING), JSON.stringify({ ...want, key: key.export({ type: "pkcs8", format: "pem" }) }));
    syncDir(dir);
    return key;
  });
}

type State = { url: string; deviceId: string; keyType: KeyType };

// ---- the device -------------------------------------------------------------------------------------------

export class Device {
  private constructor(
    readonly dir: string,
    private state: State,
  ) {}

  /** A device whose state lives in `dir` (created 0700 if missing); must have enrolled before. */
  static open(dir: string): Device {
    const file = path.join(dir, "state.json");
    finishReplace(dir);
    if (!fs.existsSync(file)) throw new EstError(0, "not_enrolled", `no device state in ${dir}: enroll first`);
    return new Device(dir, JSON.parse(fs.readFileSync(file, "utf8")) as State);
  }

  /**
   * Initial device setup: a new key, a CSR for `deviceId`, simpleenroll authenticated by the factory
   * bootstrapping certificate. Writes ca.pem, device.key, device.crt, device-chain.pem and state.json. Run again
   * after a failure, it sends the pending key of the same enrollment (see "Retries").
   */
  static async enroll(input: {
    dir: string;
    url: string;
    ca: string;
    bootstrapCert: string;
    bootstrapKey: string;
    deviceId: string;
    secret?: string;
    keyType?: KeyType;
  }): Promise<Device> {
    fs.mkdirSync(input.dir, { recursive: true, mode: 0o700 });
    const state: State = { url: input.url, deviceId: input.deviceId, keyType: input.keyType ?? "p256" };
    const key = pendingKey(input.dir, { op: "simpleenroll", ...state });
    // the one-time secret is not kept in the pending file: a retry passes it again (or none: the service answers
    // a repeat by the key alone)
    const csr = buildCsr({ key, deviceId: input.deviceId, ...(input.secret ? { challengePassword: input.secret } : {}) });
    const issued = await enrollRequest(
      { url: input.url, ca: input.ca, cert: input.bootstrapCert, key: input.bootstrapKey },
      "simpleenroll",
      csr,
    );
    const device = new Device(input.dir, state);
    // state.json last in the set: a device is enrolled once its key, certificates and state are all in place
    device.store("device", key, issued, { "ca.pem": input.ca, "state.json": JSON.stringify(device.state, null, 2) }, [PENDING]);
    return device;
  }

  get deviceId(): string {
    return this.state.deviceId;
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }

  /** The current Client TLS certificate. */
  certificate(): X509Certificate {
    return new X509Certificate(fs.readFileSync(this.file("device.crt")));
  }

  /** Age-based rotation: due once the certificate is ROTATE_AFTER_DAYS old. */
  rotationDue(now = new Date()): boolean {
    const issued = new Date(this.certificate().validFrom).getTime() + 5 * 60_000; // notBefore is backdated 5 min
    return now.getTime() - issued >= ROTATE_AFTER_DAYS * DAY;
  }

  private connection(): EstConnection {
    return {
      url: this.state.url,
      ca: fs.readFileSync(this.file("ca.pem"), "utf8"),
      cert: fs.readFileSync(this.file("device-chain.pem"), "utf8"),
      key: fs.readFileSync(this.file("device.key"), "utf8"),
    };
  }

  /** The key, certificate and chain of `name` (device, or an application profile), replaced together. */
  private store(
    name: string,
    key: KeyObject,
    issued: { cert: string; chain: string[] },
    more: Record<string, string> = {},
    done: string[] = [],
  ) {
    replaceTogether(
      this.dir,
      {
        [`${name}.key`]: key.export({ type: "pkcs8", format: "pem" }) as string,
        [`${name}.crt`]: issued.cert,
        [`${name}-chain.pem`]: [issued.cert, ...issued.chain].join(""),
        ...more,
      },
      done,
    );
  }

  /** The rotation of the current certificate, as device-pending.json names it. */
  private rotation(): PendingRequest {
    const { url, deviceId, keyType } = this.state;
    return { op: "simplereenroll", url, deviceId, keyType, replaces: this.status().serial };
  }

  /**
   * simplereenroll with a new key when due (or `force`), or when a rotation of the current certificate is pending
   * (its answer was lost: see "Retries"). The new key is written as pending before the request is sent, and reused
   * until its certificate is stored; the current key and certificate stay in place until then, and are replaced
   * together with the new ones. So a failed or interrupted rotation leaves the device working with its current
   * certificate, and the next rotate() or start() completes it (within 72 h, before the current one is retired).
   */
  async rotate(opts: { force?: boolean; now?: Date } = {}): Promise<boolean> {
    const want = this.rotation();
    if (!opts.force && !readPending(this.dir, want) && !this.rotationDue(opts.now)) return false;
    const key = pendingKey(this.dir, want);
    const issued = await enrollRequest(this.connection(), "simplereenroll", buildCsr({ key, deviceId: this.state.deviceId }));
    this.store("device", key, issued, {}, [PENDING]);
    return true;
  }

  /** What a device runs at start: rotate if due, or finish a rotation whose answer was lost. */
  async start(now = new Date()): Promise<{ rotated: boolean }> {
    return { rotated: await this.rotate({ now }) };
  }

  /** An application certificate (default c2pa) for a new key; renews when one exists already. */
  async applicationCertificate(
    profile = "c2pa",
    keyType: KeyType = "p256",
  ): Promise<{ cert: X509Certificate; keyFile: string; certFile: string }> {
    if (!/^[a-z0-9-]{1,32}$/.test(profile)) throw new EstError(0, "profile_invalid", "invalid profile name");
    const key = generateKey(keyType);
    const renew = fs.existsSync(this.file(`${profile}.crt`));
    const issued = await enrollRequest(
      this.connection(),
      `${profile}/${renew ? "simplereenroll" : "simpleenroll"}`,
      buildCsr({ key, deviceId: this.state.deviceId }),
    );
    this.store(profile, key, issued);
    return { cert: new X509Certificate(issued.cert), keyFile: this.file(`${profile}.key`), certFile: this.file(`${profile}.crt`) };
  }

  status(now = new Date()) {
    const cert = this.certificate();
    return {
      deviceId: this.state.deviceId,
      url: this.state.url,
      serial: cert.serialNumber.toLowerCase().replace(/^0+(?=.)/, ""),
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      rotationDue: this.rotationDue(now),
    };
  }
}

/** Read a PEM private key file (bootstrapping key). */
export function readKey(file: string): KeyObject {
  return createPrivateKey(fs.readFileSync(file));
}
