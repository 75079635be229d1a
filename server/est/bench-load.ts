// Load generator of `pss bench enroll`, run in its own process so it does not share the server's core time
// accounting. Raw HTTP/1.1 over node:tls keeps the client's own cost small. Prints JSON lines: {start: mode}
// when a mode's timed run starts, then its result (with the client's own CPU time per operation).
//   argv[2]: JSON { host, port, ca, cert, key, warmup, seconds, concurrency, modes }
import { randomBytes } from "node:crypto";
import tls from "node:tls";
import { buildCsr, generateKey } from "../../lib/device-sdk/index.ts";

type Config = {
  host: string;
  port: number;
  ca: string;
  cert: string;
  key: string;
  /** seconds of warm-up (not counted), then seconds measured, per mode */
  warmup: number;
  seconds: number;
  concurrency: number;
  modes: Mode[];
};
type Mode = "handshake" | "fresh" | "resumed" | "keepalive";

const cfg = JSON.parse(process.argv[2]) as Config;
/** a handshake or an exchange that takes longer counts as an error (a stalled server must not stall the run) */
const TIMEOUT_MS = 30_000;
const run = randomBytes(3).toString("hex");
let counter = 0;
// one TLS context for every connection: tls.connect({ ca, cert, key }) would parse them again each time
const secureContext = tls.createSecureContext({ ca: cfg.ca, cert: cfg.cert, key: cfg.key });

/** Pre-built request bodies: every enrollment needs a new key and device id. */
function requests(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const body = buildCsr({ key: generateKey(), deviceId: `bench-${run}-${counter++}` }).toString("base64");
    out.push(
      Buffer.from(
        `POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/pkcs10\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      ),
    );
  }
  return out;
}

function connect(session?: Buffer): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: cfg.host,
      port: cfg.port,
      secureContext,
      servername: "localhost",
      ...(session ? { session } : {}),
    });
    // a socket the server closes (or that times out) settles the promise: destroy() alone emits nothing on
    // a socket that already ended
    const fail = (e: Error) => {
      clearTimeout(timer);
      s.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error(`TLS handshake took more than ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    s.once("secureConnect", () => {
      clearTimeout(timer);
      s.off("close", closed);
      resolve(s);
    });
    const closed = () => fail(new Error("closed during the TLS handshake"));
    s.once("close", closed);
    s.once("error", fail);
  });
}

/**
 * Resolves when the server has completed the handshake: in TLS 1.3 the server sends its session tickets only
 * after it has verified the client's certificate and Finished. (Closing at secureConnect instead would reset
 * the connection before the server reads the client's last flight: a half handshake, not a bare one.)
 */
function serverFinished(s: tls.TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`no session ticket within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    const fail = (e: Error) => {
      clearTimeout(timer);
      s.destroy();
      reject(e);
    };
    s.once("session", () => {
      clearTimeout(timer);
      s.off("close", closed);
      resolve();
    });
    const closed = () => fail(new Error("closed before the server finished the handshake"));
    s.once("close", closed);
  });
}

/** Send one request and wait for its whole response; resolves with the status. */
function exchange(s: tls.TLSSocket, req: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    const done = () => {
      s.off("data", onData);
      s.off("error", fail);
      s.off("close", closed);
      clearTimeout(timer);
    };
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buf.subarray(0, end).toString("latin1");
      const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      done();
      resolve(Number(head.slice(9, 12)));
    };
    const fail = (e: Error) => {
      done();
      s.destroy();
      reject(e);
    };
    const closed = () => fail(new Error("the server closed the connection without an answer"));
    s.once("close", closed);
    s.on("data", onData);
    s.once("error", fail);
    s.write(req);
  });
}

type ModeResult = { mode: Mode; per_s: number; ops: number; errors: number; p50_ms: number; resumed: number; client_cpu_ms_per_op: number };

async function measure(mode: Mode): Promise<ModeResult> {
  const total = cfg.warmup + cfg.seconds;
  const pool = mode === "handshake" ? [] : requests(Math.ceil(total * (mode === "keepalive" ? 4000 : 900)));
  let next = 0;
  let ops = 0;
  let errors = 0;
  let resumed = 0;
  const lat: number[] = [];
  // Keep-alive connections are opened before the clock starts: their handshakes are not keep-alive work, and
  // at a few hundred connections they would still be completing inside a short warm-up.
  // (One that fails is opened again by its worker.)
  const opened =
    mode === "keepalive"
      ? (await Promise.allSettled(Array.from({ length: cfg.concurrency }, () => connect()))).map((r) =>
          r.status === "fulfilled" ? r.value : undefined,
        )
      : [];
  // Warm-up first (the same loop, not counted: the JIT compiles the server's paths meanwhile). At the start
  // of the measured window the parent reads its own CPU time, as this process does: the cost per operation.
  const measuredFrom = performance.now() + cfg.warmup * 1000;
  const end = measuredFrom + cfg.seconds * 1000;
  let cpu = process.cpuUsage();
  let started = measuredFrom;
  const boundary = setTimeout(() => {
    console.log(JSON.stringify({ start: mode }));
    cpu = process.cpuUsage();
    started = performance.now();
  }, cfg.warmup * 1000);
  const worker = async (_: unknown, k: number) => {
    let session: Buffer | undefined;
    let kept: tls.TLSSocket | undefined = opened[k];
    while (performance.now() < end) {
      const t0 = performance.now();
      const counted = t0 >= measuredFrom; // started inside the measured window
      try {
        if (mode === "handshake") {
          const s = await connect();
          await serverFinished(s);
          s.end();
        } else {
          const req = pool[next++];
          if (!req) break;
          let s: tls.TLSSocket;
          if (kept?.destroyed) kept = undefined;
          if (mode === "keepalive") s = kept ??= await connect();
          else {
            s = await connect(mode === "resumed" ? session : undefined);
            if (s.isSessionReused() && counted) resumed++;
            if (mode === "resumed") s.on("session", (sess: Buffer) => (session = sess));
          }
          const status = await exchange(s, req);
          if (status !== 200 && counted) errors++;
          if (mode !== "keepalive") s.end();
        }
        if (counted) {
          ops++;
          lat.push(performance.now() - t0);
        }
      } catch {
        if (counted) errors++;
        kept = undefined;
      }
    }
    kept?.destroy();
  };
  await Promise.all(Array.from({ length: cfg.concurrency }, worker));
  clearTimeout(boundary);
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  lat.sort((a, b) => a - b);
  return {
    mode,
    per_s: Math.round(ops / elapsed),
    ops,
    errors,
    p50_ms: Math.round((lat[Math.floor(lat.length / 2)] ?? 0) * 100) / 100,
    resumed,
    client_cpu_ms_per_op: Math.round(((used.user + used.system) / 1000 / Math.max(ops, 1)) * 100) / 100,
  };
}

// one line per mode as it starts and as it ends
for (const mode of cfg.modes) console.log(JSON.stringify(await measure(mode)));
process.exit(0);
