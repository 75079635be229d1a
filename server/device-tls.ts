// TLS material of the device listener: a fresh key pair at every start (it never touches disk or the
// database) and a server certificate for it from the hierarchy (TLS Intermediate, serverAuth, SAN
// localhost / 127.0.0.1 / ::1 / PSS_DEVICE_HOSTNAMES), so devices trust it through the root alone.
import { exportCaPem } from "../lib/data/ca/list-cas.ts";
import { issueAndStore } from "../lib/data/certificates/issue-certificate.ts";
import { env } from "../lib/env.ts";
import { createCsr } from "../lib/pki/csr.ts";
import { newPrivateKey } from "../lib/pki/keygen.ts";

export type ListenerTls = { key: string; cert: string; ca: string; serial: string };

export async function issueListenerTls(): Promise<ListenerTls> {
  const privateKey = newPrivateKey();
  const extra = env()
    .PSS_DEVICE_HOSTNAMES.split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  const isIp = (h: string) => /^[\d.]+$/.test(h) || h.includes(":");
  const issued = await issueAndStore({
    profile: "server",
    csr: createCsr({ key: privateKey }),
    dnsNames: ["localhost", ...extra.filter((h) => !isIp(h))],
    ipAddresses: ["127.0.0.1", "::1", ...extra.filter(isIp)],
    authorizedBy: "device-listener",
    actor: { type: "system", id: "device-listener" },
  });
  return {
    key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    // leaf + intermediates; the root stays out (clients already have it)
    cert: [issued.pem, ...issued.chainPem.slice(0, -1)].join(""),
    ca: await exportCaPem("root"),
    serial: issued.serialHex,
  };
}
