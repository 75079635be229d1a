// The device SDK's files: a key and its certificates are replaced together or not at all, whatever moment a
// crash (power cut) interrupts the replacement; Device.open finishes a committed replacement. A request's new key is
// on disk (pending) before the request leaves, and the next attempt at that request sends it again.
import fs from "node:fs";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Device, finishReplace, replaceTogether } from "./index.ts";

const dirs: string[] = [];
function deviceDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-sdk-"));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, "state.json"), JSON.stringify({ url: "https://pss.example", deviceId: "cam-1", keyType: "p256" }));
  replaceTogether(dir, { "device.key": "old key", "device.crt": "old cert", "device-chain.pem": "old chain" });
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const read = (dir: string, name: string) => fs.readFileSync(path.join(dir, name), "utf8");
const SET = ["device.key", "device.crt", "device-chain.pem"];

describe("replacing a key with its certificates", () => {
  it("writes every file 0600 and leaves nothing behind", () => {
    const dir = deviceDir();
    replaceTogether(dir, { "device.key": "new key", "device.crt": "new cert", "device-chain.pem": "new chain" });
    expect(SET.map((f) => read(dir, f))).toEqual(["new key", "new cert", "new chain"]);
    for (const f of SET) expect(fs.statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir).sort()).toEqual([...SET, "state.json"].sort());
  });

  it("a crash after the commit, with one file moved: opening the device finishes the rest", () => {
    const dir = deviceDir();
    for (const f of SET) fs.writeFileSync(path.join(dir, `${f}.next`), `new ${f}`);
    fs.writeFileSync(path.join(dir, "commit.json"), JSON.stringify(SET));
    fs.renameSync(path.join(dir, "device.key.next"), path.join(dir, "device.key")); // the crash came here
    expect(read(dir, "device.crt")).toBe("old cert"); // a new key with the old certificate: unusable as it stands
    Device.open(dir);
    expect(SET.map((f) => read(dir, f))).toEqual(SET.map((f) => `new ${f}`));
    expect(fs.existsSync(path.join(dir, "commit.json"))).toBe(false);
  });

  it("a crash before the commit: the old set stays, and the next replacement overwrites the leftovers", () => {
    const dir = deviceDir();
    fs.writeFileSync(path.join(dir, "device.key.next"), "half-written new key");
    Device.open(dir);
    expect(SET.map((f) => read(dir, f))).toEqual(["old key", "old cert", "old chain"]);
    replaceTogether(dir, { "device.key": "newer key", "device.crt": "newer cert", "device-chain.pem": "newer chain" });
    expect(read(dir, "device.key")).toBe("newer key");
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".next"))).toEqual([]);
  });

  it("two processes take turns: a live lock refuses, a lock left by a dead process (over a minute old) is taken over", () => {
    const dir = deviceDir();
    const lock = path.join(dir, "replace.lock");
    fs.writeFileSync(lock, "");
    const next = { "device.key": "new key", "device.crt": "new cert", "device-chain.pem": "new chain" };
    expect(() => replaceTogether(dir, next)).toThrow(/another process is replacing/);
    expect(read(dir, "device.key")).toBe("old key");
    const old = new Date(Date.now() - 120_000);
    fs.utimesSync(lock, old, old);
    replaceTogether(dir, next);
    expect(SET.map((f) => read(dir, f))).toEqual(["new key", "new cert", "new chain"]);
    expect(fs.existsSync(lock)).toBe(false);
  });

  it("a replacement first finishes one a crash left committed", () => {
    const dir = deviceDir();
    fs.writeFileSync(path.join(dir, "c2pa.key.next"), "committed c2pa key");
    fs.writeFileSync(path.join(dir, "commit.json"), JSON.stringify(["c2pa.key"]));
    replaceTogether(dir, { "device.key": "new key", "device.crt": "new cert", "device-chain.pem": "new chain" });
    expect(read(dir, "c2pa.key")).toBe("committed c2pa key");
    expect(read(dir, "device.key")).toBe("new key");
  });

  it("a commit record naming anything but plain file names in the directory is refused", () => {
    const dir = deviceDir();
    for (const names of [["../outside"], [".."], [42], "device.key"]) {
      fs.writeFileSync(path.join(dir, "commit.json"), JSON.stringify(names));
      expect(() => finishReplace(dir)).toThrow(/not a list of file names/);
      expect(() => Device.open(dir)).toThrow(/not a list of file names/);
    }
  });
});

describe("the pending key of an enrollment", () => {
  // a server that takes each connection and drops it: the request left, no answer came
  let connections = 0;
  let url = "";
  const server = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const emptyDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-sdk-"));
    dirs.push(dir);
    return dir;
  };
  const enroll = (dir: string, deviceId = "cam-1") => Device.enroll({ dir, url, ca: "", bootstrapCert: "", bootstrapKey: "", deviceId });
  const pending = (dir: string) => read(dir, "device-pending.json");

  it("is written 0600 before the request leaves and sent again by the next attempt; another request gets a new one", async () => {
    const dir = emptyDir();
    await expect(enroll(dir)).rejects.toThrow();
    expect(connections).toBe(1);
    expect(fs.statSync(path.join(dir, "device-pending.json")).mode & 0o777).toBe(0o600);
    const first = pending(dir);
    expect(JSON.parse(first)).toMatchObject({ op: "simpleenroll", url, deviceId: "cam-1", keyType: "p256" });
    await expect(enroll(dir)).rejects.toThrow();
    expect(pending(dir)).toBe(first);
    // another device id is another request: a new key
    await expect(enroll(dir, "cam-2")).rejects.toThrow();
    expect(JSON.parse(pending(dir)).key).not.toBe(JSON.parse(first).key);
    expect(fs.readdirSync(dir).sort()).toEqual(["device-pending.json"]);
  });

  it("one whose certificate was stored (a crash came before it was removed) is not sent again", async () => {
    const dir = emptyDir();
    await expect(enroll(dir)).rejects.toThrow();
    const first = JSON.parse(pending(dir)).key as string;
    fs.writeFileSync(path.join(dir, "device.key"), first);
    await expect(enroll(dir)).rejects.toThrow();
    expect(JSON.parse(pending(dir)).key).not.toBe(first);
  });

  it("that cannot be written (another process holds the lock) fails the enrollment before anything is sent", async () => {
    const dir = emptyDir();
    fs.writeFileSync(path.join(dir, "replace.lock"), "");
    const before = connections;
    await expect(enroll(dir)).rejects.toMatchObject({ code: "state_busy" });
    expect(connections).toBe(before);
    expect(fs.existsSync(path.join(dir, "device-pending.json"))).toBe(false);
  });
});
