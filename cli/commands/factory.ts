// `pss factory enroll`: the factory line's tool. Reads a folder of CSRs (or generates a key and CSR for each of
// N device ids), asks the customer API for Client TLS certificates in batches of up to 1000 (OAuth client
// credentials + a JWS by a payload-signing key), and writes <device-id>.crt.pem files and chain.pem.
//
// Reruns are safe: each batch carries an Idempotency-Key derived from its CSRs, so a rerun after a lost answer
// (the server stored batch N, the reply never arrived, or writing its files failed) gets the stored certificates
// back. With --generate that needs the same CSRs on the rerun: every key and CSR is written to --out (0600,
// flushed) before the first request and reused from there, never made again in memory — new keys would be new
// CSRs, a new Idempotency-Key, and 409 device_exists for devices enrolled with keys nobody holds.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { algFor, freshClaims, type PayloadKey, signKeyRegistration, signPayload } from "../../lib/api/sign.ts";
import { writeNewSecretFile } from "../../lib/db/target.ts";
import { replaceFile, syncDir } from "../../lib/durable-files.ts";
import { AppError } from "../../lib/errors.ts";
import { createCsr, parseCsr } from "../../lib/pki/csr.ts";
import { toPem } from "../../lib/pki/der.ts";
import { newPrivateKey } from "../../lib/pki/keygen.ts";
import { OID_CN, OID_SERIAL_NUMBER } from "../../lib/pki/names.ts";
import { API_LIMITS } from "../../lib/validations/api.ts";
import { type Command, flags, readFile, required } from "../io.ts";

type Csr = { name: string; pem: string };

const readText = (file: string, what: string): string => readFile(file, what).toString("utf8");

function csrsFromDir(dir: string): Csr[] {
  let names: string[];
  try {
    names = fs
      .readdirSync(dir)
      .filter((n) => /\.(csr|pem|req)$/i.test(n))
      .sort();
  } catch {
    throw new AppError("file_unreadable", `cannot read the folder ${dir}`, 2);
  }
  if (names.length === 0) throw new AppError("usage", `no *.csr, *.pem or *.req files in ${dir}`, 2);
  return names.map((n) => ({ name: n.replace(/\.[^.]+$/, ""), pem: readText(path.join(dir, n), "CSR") }));
}

/** A file's text, or undefined when there is none. */
function existing(file: string, what: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new AppError("file_unreadable", `cannot read ${what} ${file}`, 2);
  }
}

/** Writes `content` to a new file (0600, flushed); a file already there (another run's) is kept and returned. */
function keep(file: string, content: string, what: string): string {
  try {
    writeNewSecretFile(file, content);
  } catch (e) {
    throw new AppError("file_unwritable", `cannot write ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 1);
  }
  return readText(file, what);
}

/** Replaces `file` whole (a reader sees the old or the new content, never part of it), flushed. */
function replace(file: string, content: string): void {
  try {
    replaceFile(file, content, 0o644);
  } catch (e) {
    throw new AppError("file_unwritable", `cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 1);
  }
}

/**
 * The key and CSR of each of `count` device ids, in --out as <id>.key.pem and <id>.csr.pem: those a run already
 * wrote are reused (so a rerun sends the very CSRs of the first run), the rest generated and written — the key
 * before its CSR, both before anything is sent, so no CSR ever reaches the API without its key on disk.
 */
function generated(count: number, prefix: string, start: number, out: string): Csr[] {
  try {
    fs.mkdirSync(out, { recursive: true });
  } catch (e) {
    throw new AppError("file_unwritable", `cannot create ${out}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 1);
  }
  const csrs = Array.from({ length: count }, (_, i) => {
    const id = `${prefix}${start + i}`;
    const keyFile = path.join(out, `${id}.key.pem`);
    const csrFile = path.join(out, `${id}.csr.pem`);
    let keyPem = existing(keyFile, "device key");
    let pem = existing(csrFile, "CSR");
    if (keyPem === undefined) {
      // a CSR whose key is gone may have been enrolled already: another key would not match its certificate
      if (pem !== undefined)
        throw new AppError("device_key_missing", `${csrFile} is there but its key ${keyFile} is not: restore the key or remove both`, 1);
      keyPem = keep(keyFile, newPrivateKey().export({ type: "pkcs8", format: "pem" }).toString(), "device key");
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(keyPem);
    } catch {
      throw new AppError("file_unreadable", `${keyFile} is not a PEM private key`, 2);
    }
    if (pem === undefined) {
      const der = createCsr({
        key,
        subject: [
          { oid: OID_CN, value: id, encoding: "utf8" },
          { oid: OID_SERIAL_NUMBER, value: id, encoding: "printable" },
        ],
      });
      pem = keep(csrFile, toPem("CERTIFICATE REQUEST", der), "CSR");
    }
    // a reused pair must be this device's: its CSR names the id and carries the key's public key
    const spki = createPublicKey(key).export({ type: "spki", format: "der" });
    let csr: ReturnType<typeof parseCsr> | undefined;
    try {
      csr = parseCsr(pem);
    } catch {
      // reported below
    }
    if (csr?.deviceId !== id || csr.spkiSha256 !== createHash("sha256").update(spki).digest("hex"))
      throw new AppError("device_files_mismatch", `${csrFile} is not a CSR for ${id} and the key in ${keyFile}`, 1);
    return { name: id, pem };
  });
  syncDir(out); // the new files' names are on disk too before the first request
  return csrs;
}

async function call(url: string, init: RequestInit): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new AppError("api_unreachable", `cannot reach ${url}: ${e instanceof Error ? e.message : String(e)}`, 1);
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    const err = body.error as { code?: string; message?: string } | string | undefined;
    if (typeof err === "string") throw new AppError(err, `${url}: ${String(body.error_description ?? err)}`, 1);
    throw new AppError(err?.code ?? "api_error", `${url}: ${err?.message ?? `HTTP ${res.status}`}`, 1);
  }
  return body;
}

export const factoryEnroll: Command = {
  name: "factory enroll",
  summary: "get Client TLS certificates for a folder of CSRs (or N generated device keys) from the customer API",
  usage:
    "pss factory enroll --api URL --client-id ID --client-secret-file FILE --key PAYLOAD_KEY.pem (--csr-dir DIR | --generate N [--prefix dev-] [--start 1]) --out DIR [--batch-size 1000] [--register-key] [--idempotency-key K] [--json]",
  async run({ args }) {
    const { values } = flags(args, {
      api: { type: "string" },
      "client-id": { type: "string" },
      "client-secret-file": { type: "string" },
      key: { type: "string" },
      "csr-dir": { type: "string" },
      generate: { type: "string" },
      prefix: { type: "string" },
      start: { type: "string" },
      out: { type: "string" },
      "batch-size": { type: "string" },
      "register-key": { type: "boolean" },
      "idempotency-key": { type: "string" },
    });
    const api = required(values.api, "api").replace(/\/+$/, "");
    const clientId = required(values["client-id"], "client-id");
    const secret = readText(required(values["client-secret-file"], "client-secret-file"), "client secret").trim();
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(readText(required(values.key, "key"), "payload-signing key"));
    } catch (e) {
      if (e instanceof AppError) throw e;
      throw new AppError("usage", "--key must be a PEM private key (P-256, P-384, Ed25519 or RSA)", 2);
    }
    const key: PayloadKey = { privateKey, alg: algFor(privateKey) };
    const out = required(values.out, "out");
    if (values["csr-dir"] === undefined && values.generate === undefined) throw new AppError("usage", "give --csr-dir or --generate", 2);
    const count = Number(values.generate ?? "0");
    if (values.generate !== undefined && (!Number.isInteger(count) || count < 1 || count > 100_000))
      throw new AppError("usage", "--generate must be 1–100000", 2);
    const start = Number(values.start ?? "1");
    if (!Number.isSafeInteger(start) || start < 0) throw new AppError("usage", "--start must be a whole number", 2);
    const batchSize = Number(values["batch-size"] ?? API_LIMITS.batchCsrs);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > API_LIMITS.batchCsrs)
      throw new AppError("usage", `--batch-size must be 1–${API_LIMITS.batchCsrs}`, 2);
    const csrs = values["csr-dir"] !== undefined ? csrsFromDir(values["csr-dir"]) : generated(count, values.prefix ?? "dev-", start, out);

    const token = await call(`${api}/api/v1/oauth/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
    const auth = { authorization: `Bearer ${String(token.access_token)}` };
    if (values["register-key"]) {
      const url = `${api}/api/v1/payload-signing-keys`;
      await call(url, {
        method: "POST",
        headers: { ...auth, "content-type": "application/jose+json" },
        body: await signKeyRegistration(key),
      });
    }

    try {
      fs.mkdirSync(out, { recursive: true });
    } catch (e) {
      throw new AppError("file_unwritable", `cannot create ${out}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 1);
    }
    const written: { deviceId: string; serial: string; file: string }[] = [];
    const url = `${api}/api/v1/manufacturing/client-tls-certificates`;
    for (let i = 0; i < csrs.length; i += batchSize) {
      const batch = csrs.slice(i, i + batchSize);
      // One idempotency key per batch: a rerun after a network failure gets the same certificates back.
      const base =
        values["idempotency-key"] ??
        createHash("sha256")
          .update(batch.map((c) => c.pem).join("\n"))
          .digest("hex")
          .slice(0, 32);
      const body = await signPayload(key, { csrs: batch.map((c) => c.pem), ...freshClaims() }, { url });
      const r = await call(url, {
        method: "POST",
        headers: { ...auth, "content-type": "application/jose+json", "idempotency-key": `${base}-${i / batchSize}` },
        body,
      });
      const certs = r.certificates as { serial: string; deviceId: string; certificate: string }[];
      if (i === 0) replace(path.join(out, "chain.pem"), (r.chain as string[]).join(""));
      for (const c of certs) {
        const file = path.join(out, `${c.deviceId}.crt.pem`);
        replace(file, c.certificate);
        written.push({ deviceId: c.deviceId, serial: c.serial, file });
      }
      syncDir(out);
    }
    return { issued: written.length, out, certificates: written };
  },
};
