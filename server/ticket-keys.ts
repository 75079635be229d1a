// TLS session ticket keys of the device listener, rotated. A resumed session skips the client's certificate:
// the server trusts the identity sealed in the ticket, so whoever holds a ticket key can mint a session for any
// device (the authorizer still checks revocation on every request, but not who the peer is). The keys therefore
// change every period, and the secret they come from is a one-way ratchet: each period's state is the hash of
// the previous one, which is overwritten, so the process never holds what it would need to rebuild an earlier
// period's key. Workers of one cluster start from the primary's state and ratchet in step on the wall clock, so
// a session resumes on any worker of its period.
//
// Node takes one ticket key at a time (server.setTicketKeys), so a ticket issued just before a rotation no longer
// resumes after it: the device makes a full handshake, nothing else changes.
import { createHmac, hkdfSync, randomBytes } from "node:crypto";
import type tls from "node:tls";
import { TLS_SESSION_SECONDS } from "../lib/data/devices/presented-chains.ts";

/** How long one set of ticket keys is used: the ticket lifetime the listener announces. */
export const TICKET_KEY_PERIOD_MS = TLS_SESSION_SECONDS * 1000;

/** What a cluster worker receives from its primary: the ratchet's state for `epoch` (base64). */
export type TicketSecret = { state: string; epoch: number; periodMs: number };

export class TicketKeyRatchet {
  #state: Buffer;
  #epoch: number;
  readonly periodMs: number;

  constructor(from?: TicketSecret, { periodMs = TICKET_KEY_PERIOD_MS, now = Date.now() } = {}) {
    this.periodMs = from?.periodMs ?? periodMs;
    if (!(this.periodMs > 0)) throw new Error("ticket key period must be positive");
    this.#state = from ? Buffer.from(from.state, "base64") : randomBytes(32);
    if (this.#state.length !== 32) throw new Error("ticket secret state must be 32 bytes");
    this.#epoch = from?.epoch ?? this.epochAt(now);
  }

  epochAt(now: number): number {
    return Math.floor(now / this.periodMs);
  }

  /** Moves the state forward to `now`'s period (never back), overwriting every state it passes. */
  #advance(now: number): void {
    const target = this.epochAt(now);
    while (this.#epoch < target) {
      const next = createHmac("sha256", this.#state).update("pss tls ticket ratchet").digest();
      this.#state.fill(0);
      this.#state = next;
      this.#epoch++;
    }
  }

  /** The 48 bytes node:tls takes (key name, HMAC secret, AES key) for `now`'s period. */
  keysAt(now = Date.now()): Buffer {
    this.#advance(now);
    return Buffer.from(hkdfSync("sha256", this.#state, Buffer.alloc(0), "pss tls ticket keys", 48));
  }

  /** The state for `now`'s period, for a worker to start from. */
  share(now = Date.now()): TicketSecret {
    this.#advance(now);
    return { state: this.#state.toString("base64"), epoch: this.#epoch, periodMs: this.periodMs };
  }

  /** Milliseconds from `now` to the next period. */
  msToNext(now = Date.now()): number {
    return (this.epochAt(now) + 1) * this.periodMs - now;
  }

  /**
   * Keeps `onKeys` fed: now, then at the start of every period (the timers do not keep the process alive).
   * Returns the function that stops it.
   */
  schedule(onKeys: (keys: Buffer) => void): () => void {
    let timer: NodeJS.Timeout | undefined;
    const tick = () => {
      onKeys(this.keysAt());
      timer = setTimeout(tick, this.msToNext() + 1);
      timer.unref();
    };
    tick();
    return () => clearTimeout(timer);
  }
}

/** Rotates `server`'s ticket keys with `ratchet` until the server closes. */
export function rotateTicketKeys(server: tls.Server, ratchet: TicketKeyRatchet): void {
  const stop = ratchet.schedule((keys) => server.setTicketKeys(keys));
  server.on("close", stop);
}
