// `pss factory enroll`: the factory line's tool. Reads a folder of CSRs (or generates a key and CSR for each of
// N device ids), asks the customer API for Client TLS certificates in batches of up to 1000 (OAuth client
// credentials + a JWS by a payload-signing key), and writes <device-id>.crt.pem files and chain.pem.
import { createHash, createPrivateKey, type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { algFor, freshClaims, type PayloadKey, signKeyRegistration, signPayload } from "../../lib/api/sign.ts";
import { AppError } from "../../lib/errors.ts";
import { createCsr } from "../../lib/pki/csr.ts";
import { toPem } from "../../lib/pki/der.ts";
import { newPrivateKey } from "../../lib/pki/keygen.ts";
import { OID_CN, OID_SERIAL_NUMBER } from "../../lib/pki/names.ts";
import { API_LIMITS } from "../../lib/validations/api.ts";
import { type Command, flags, readFile, required } from "../io.ts";

type Csr = { name: string; pem: string; keyPem?: string };

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

function generated(count: number, prefix: string, start: number): Csr[] {
  return Array.from({ length: count }, (_, i) => {
    const id = `${prefix}${start + i}`;
    const privateKey = newPrivateKey();
    const der = createCsr({
      key: privateKey,
      subject: [
        { oid: OID_CN, value: id, encoding: "utf8" },
        { oid: OID_SERIAL_NUMBER, value: id, encoding: "printable" },
      ],
    });
    return { name: id, pem: toPem("CERTIFICATE REQUEST", der), keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
  });
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
    "pss factory enroll --api URL --client-id ID --client-secret-file FILE --key PAYLOAD_KEY.pem (--csr-dir DIR | --generate N [--prefix dev-] [--start 1]) --out DIR [--register-key] [--idempotency-key K] [--json]",
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
    const csrs =
      values["csr-dir"] !== undefined
        ? csrsFromDir(values["csr-dir"])
        : generated(count, values.prefix ?? "dev-", Number(values.start ?? "1"));

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

    fs.mkdirSync(out, { recursive: true });
    const written: { deviceId: string; serial: string; file: string }[] = [];
    const url = `${api}/api/v1/manufacturing/client-tls-certificates`;
    for (let i = 0; i < csrs.length; i += API_LIMITS.batchCsrs) {
      const batch = csrs.slice(i, i + API_LIMITS.batchCsrs);
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
        headers: { ...auth, "content-type": "application/jose+json", "idempotency-key": `${base}-${i / API_LIMITS.batchCsrs}` },
        body,
      });
      const certs = r.certificates as { serial: string; deviceId: string; certificate: string }[];
      if (i === 0) fs.writeFileSync(path.join(out, "chain.pem"), (r.chain as string[]).join(""));
      certs.forEach((c, j) => {
        const file = path.join(out, `${c.deviceId}.crt.pem`);
        fs.writeFileSync(file, c.certificate);
        const keyPem = batch[j].keyPem;
        if (keyPem) fs.writeFileSync(path.join(out, `${c.deviceId}.key.pem`), keyPem, { mode: 0o600 });
        written.push({ deviceId: c.deviceId, serial: c.serial, file });
      });
    }
    return { issued: written.length, out, certificates: written };
  },
};
