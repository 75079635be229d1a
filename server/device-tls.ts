// TLS material of the device listener. Until the signing core issues the listener's certificate from
// the hierarchy, a throwaway root + server certificate is generated at first start under the data dir.
import fs from "node:fs";
import path from "node:path";
import { crypto, x509 } from "../lib/pki/x509.ts";

export type ListenerTls = { key: string; cert: string; ca: string };

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

async function pemKey(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey("pkcs8", key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString("base64").replace(/.{64}/g, "$&\n").trim()}\n-----END PRIVATE KEY-----\n`;
}

export async function deviceListenerTls(dataDir: string): Promise<ListenerTls> {
  const dir = path.join(dataDir, "device-tls");
  const files = { key: path.join(dir, "server.key"), cert: path.join(dir, "server.pem"), ca: path.join(dir, "root.pem") };
  if (!fs.existsSync(files.ca)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const now = new Date();
    const rootKeys = (await crypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: "01",
      name: "CN=PSS Device Listener Bootstrap Root",
      notBefore: now,
      notAfter: new Date(now.getTime() + 365 * 86400_000),
      keys: rootKeys,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    const keys = (await crypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: "02",
      subject: "CN=localhost",
      issuer: root.subject,
      notBefore: now,
      notAfter: new Date(now.getTime() + 365 * 86400_000),
      publicKey: keys.publicKey,
      signingKey: rootKeys.privateKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: "dns", value: "localhost" },
          { type: "ip", value: "127.0.0.1" },
        ]),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      ],
    });
    fs.writeFileSync(files.key, await pemKey(keys.privateKey), { mode: 0o600 });
    fs.writeFileSync(files.cert, cert.toString("pem"));
    fs.writeFileSync(files.ca, root.toString("pem"));
  }
  return { key: fs.readFileSync(files.key, "utf8"), cert: fs.readFileSync(files.cert, "utf8"), ca: fs.readFileSync(files.ca, "utf8") };
}
