// Start-up failures end with one clear line on stderr and exit code 1 (no stack trace as the only message).
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-start-"));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
      env: { ...process.env, DATABASE_URL: "", PSS_DATA_DIR: dataDir, LOG_LEVEL: "silent", ...env },
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("exit", (code) => {
      fs.rmSync(dataDir, { recursive: true, force: true });
      resolve({ code, stderr: stderr.trim() });
    });
  });
}

describe("start-up with bad configuration", () => {
  it("a malformed DATABASE_URL", async () => {
    const r = await start({ DATABASE_URL: "mysql://nope" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^pss: invalid configuration: DATABASE_URL must look like postgresql:/);
    expect(r.stderr.split("\n")).toHaveLength(1);
  });

  it("an unreachable PostgreSQL", async () => {
    const r = await start({ DATABASE_URL: "postgresql://pss:pss@127.0.0.1:9/pss" });
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^pss: migration failed: .*(ECONNREFUSED|connect|reach)/i);
  });

  it("a port already in use", async () => {
    const blocker = net.createServer().listen(0, "127.0.0.1");
    await new Promise((r) => blocker.once("listening", r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = await start({ PORT: String(port), HOST: "127.0.0.1", DEVICE_PORT: "0" });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`pss: port ${port} (PORT) is already in use`);
    } finally {
      blocker.close();
    }
  });
});
