// The PKCS#11 key store (SPEC §2: "SoftHSM2 in tests, any HSM in production"). CA keys are generated on the
// token as non-extractable, sensitive private keys labelled with their key ref; signing hashes in this process
// and asks the token for a raw ECDSA signature (CKM_ECDSA), so no private key ever enters this process.
//
// The key store records each key's public key and the token's serial number in the key-material row; a load
// checks both against the token, and that the objects are one non-extractable key pair that signs for its public
// key (a swapped token, a re-created object, a mislabelled or planted key fails closed). A session or login the
// token drops (a reset, an HSM failover) is replaced once per operation; a key generation retried so first destroys
// what the lost attempt may have made under its label.
//
// Error codes (all 500 unless noted): pkcs11_module_unavailable, pkcs11_token_not_found, pkcs11_token_ambiguous,
// pkcs11_login_failed, pkcs11_error, pkcs11_key_mismatch, pkcs11_key_exportable, key_exists (409), key_not_found (404),
// key_algorithm_unsupported. Messages never hold the PIN.
import { createHash, createPublicKey, randomBytes, timingSafeEqual, verify } from "node:crypto";
import type * as Pkcs11Module from "pkcs11js";
import { bitString, integer, oid, sequence } from "./der.ts";
import { PkiError } from "./errors.ts";
import type { KeyMaterialRepository, KeyStore } from "./keystore.ts";
import { HASH_OF, type KeyAlgorithm, type Signer } from "./signer.ts";

export interface Pkcs11Config {
  /** path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so */
  module: string;
  /** the token's label (CKA token info label, trailing blanks ignored) */
  tokenLabel: string;
  /** the user PIN */
  pin: string;
  /** sessions signing in parallel (a network HSM answers each in milliseconds) */
  sessions?: number;
}

type Lib = typeof Pkcs11Module;
type Handle = Buffer;

const CURVES: Record<KeyAlgorithm, { oid: string; pointBytes: number }> = {
  "ECDSA-P256": { oid: "1.2.840.10045.3.1.7", pointBytes: 65 },
  "ECDSA-P384": { oid: "1.3.132.0.34", pointBytes: 97 },
};
const EC_PUBLIC_KEY = "1.2.840.10045.2.1";

const CKR_USER_ALREADY_LOGGED_IN = 0x100;
const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191;
const LOGIN_REFUSED = new Set([0xa0 /* PIN_INCORRECT */, 0xa4 /* PIN_LOCKED */, 0xa2 /* PIN_LEN_RANGE */, 0xa1 /* PIN_INVALID */]);

/** One loaded and initialized library per path and process (C_Initialize may run only once). */
const modules = new Map<string, Promise<{ lib: Lib; p11: InstanceType<Lib["PKCS11"]> }>>();

function loadModule(path: string) {
  let pending = modules.get(path);
  if (!pending) {
    pending = (async () => {
      let lib: Lib;
      try {
        lib = ((await import("pkcs11js")) as { default?: Lib }).default ?? ((await import("pkcs11js")) as Lib);
      } catch {
        throw new PkiError("pkcs11_module_unavailable", "the pkcs11js binding is not installed (npm install builds it)", 500);
      }
      const p11 = new lib.PKCS11();
      try {
        p11.load(path);
      } catch {
        throw new PkiError("pkcs11_module_unavailable", `cannot load the PKCS#11 library ${path}`, 500);
      }
      try {
        // several sessions sign at once from the binding's threads: the library must lock itself
        p11.C_Initialize({ flags: lib.CKF_OS_LOCKING_OK });
      } catch (e) {
        if (ckr(e) !== CKR_CRYPTOKI_ALREADY_INITIALIZED) throw tokenError("C_Initialize", e);
      }
      return { lib, p11 };
    })();
    modules.set(path, pending);
    pending.catch(() => modules.delete(path));
  }
  return pending;
}

/** Tokens this process logged in to, by library and label. */
const opened = new Map<string, { pinHash: Buffer; token: Promise<Pkcs11Token> }>();

const ckr = (e: unknown): number | undefined => (e as { code?: unknown })?.code as number | undefined;

function tokenError(call: string, e: unknown): PkiError {
  // pkcs11js messages are the CKR name and the call ("CKR_DEVICE_ERROR:48 …"): nothing secret
  const name = String((e as Error)?.message ?? e).split(/[:\s]/)[0];
  return Object.assign(new PkiError("pkcs11_error", `the PKCS#11 token failed ${call}: ${name}`, 500), { ckr: ckr(e) });
}

/** The CKR code of a binding error, or of the PkiError made from one. */
const codeOf = (e: unknown): number | undefined => (e as { ckr?: number }).ckr ?? ckr(e);

/** The token lost the session or the login: a new session (logged in again) may succeed. */
const SESSION_LOST = new Set([
  0x30, // CKR_DEVICE_ERROR
  0x32, // CKR_DEVICE_REMOVED
  0xb0, // CKR_SESSION_CLOSED
  0xb3, // CKR_SESSION_HANDLE_INVALID
  0xe0, // CKR_TOKEN_NOT_PRESENT
  0x101, // CKR_USER_NOT_LOGGED_IN
]);

/** An open, logged-in token with a pool of sessions. */
export class Pkcs11Token {
  readonly serial: string;
  readonly label: string;
  readonly #lib: Lib;
  readonly #p11: InstanceType<Lib["PKCS11"]>;
  readonly #slot: Handle;
  /** kept to log in again when the token drops the login (an HSM failover, a reset) */
  readonly #pin: string;
  readonly #free: Handle[];
  readonly #waiting: ((s: Handle) => void)[] = [];

  private constructor(
    lib: Lib,
    p11: InstanceType<Lib["PKCS11"]>,
    token: { label: string; serial: string; slot: Handle; pin: string },
    sessions: Handle[],
  ) {
    this.#lib = lib;
    this.#p11 = p11;
    this.label = token.label;
    this.serial = token.serial;
    this.#slot = token.slot;
    this.#pin = token.pin;
    this.#free = sessions;
  }

  /**
   * Opens and logs in to the token, once per process: a PKCS#11 login holds for the whole process, so a second
   * open shares the first one's sessions, and must bring the same PIN (the token would not ask again).
   */
  static open(config: Pkcs11Config): Promise<Pkcs11Token> {
    const key = `${config.module}\0${config.tokenLabel}`;
    const pinHash = createHash("sha256").update(config.pin).digest();
    const known = opened.get(key);
    if (known) {
      if (!timingSafeEqual(known.pinHash, pinHash))
        return Promise.reject(
          new PkiError("pkcs11_login_failed", `the PKCS#11 token ${config.tokenLabel} is open in this process with another PIN`, 500),
        );
      return known.token;
    }
    const token = Pkcs11Token.#open(config);
    opened.set(key, { pinHash, token });
    token.catch(() => opened.delete(key));
    return token;
  }

  static async #open(config: Pkcs11Config): Promise<Pkcs11Token> {
    const { lib, p11 } = await loadModule(config.module);
    let slot: Handle | undefined;
    let serial = "";
    for (const s of p11.C_GetSlotList(true)) {
      const info = p11.C_GetTokenInfo(s);
      if (info.label.trimEnd() !== config.tokenLabel) continue;
      if (slot) throw new PkiError("pkcs11_token_ambiguous", `more than one PKCS#11 token is labelled ${config.tokenLabel}`, 500);
      slot = s;
      serial = info.serialNumber.trim();
    }
    if (!slot) throw new PkiError("pkcs11_token_not_found", `no PKCS#11 token is labelled ${config.tokenLabel}`, 500);
    const count = Math.max(1, config.sessions ?? 4);
    const sessions: Handle[] = [];
    try {
      for (let i = 0; i < count; i++) sessions.push(p11.C_OpenSession(slot, lib.CKF_SERIAL_SESSION | lib.CKF_RW_SESSION));
    } catch (e) {
      throw tokenError("C_OpenSession", e);
    }
    try {
      p11.C_Login(sessions[0], lib.CKU_USER, config.pin);
    } catch (e) {
      const code = ckr(e);
      if (code !== CKR_USER_ALREADY_LOGGED_IN) {
        for (const s of sessions) p11.C_CloseSession(s);
        if (code !== undefined && LOGIN_REFUSED.has(code))
          throw new PkiError("pkcs11_login_failed", `the PKCS#11 token ${config.tokenLabel} refused the PIN`, 500);
        throw tokenError("C_Login", e);
      }
    }
    return new Pkcs11Token(lib, p11, { label: config.tokenLabel, serial, slot, pin: config.pin }, sessions);
  }

  /**
   * Runs `fn` with a session of its own (a session holds one operation at a time). When the token has lost the
   * session or the login, the session is replaced (and logged in again) and `fn` runs once more, told so by
   * `retried` (object handles may have changed).
   */
  async #withSession<T>(fn: (s: Handle, retried: boolean) => T | Promise<T>): Promise<T> {
    let session = this.#free.pop() ?? (await new Promise<Handle>((resolve) => this.#waiting.push(resolve)));
    try {
      try {
        return await fn(session, false);
      } catch (e) {
        if (!SESSION_LOST.has(codeOf(e) ?? -1)) throw e;
        session = this.#reopen(session);
        return await fn(session, true);
      }
    } finally {
      const next = this.#waiting.shift();
      if (next) next(session);
      else this.#free.push(session);
    }
  }

  #reopen(lost: Handle): Handle {
    try {
      this.#p11.C_CloseSession(lost);
    } catch {
      // already gone
    }
    let session: Handle;
    try {
      session = this.#p11.C_OpenSession(this.#slot, this.#lib.CKF_SERIAL_SESSION | this.#lib.CKF_RW_SESSION);
    } catch (e) {
      throw tokenError("C_OpenSession", e);
    }
    try {
      this.#p11.C_Login(session, this.#lib.CKU_USER, this.#pin);
    } catch (e) {
      if (ckr(e) !== CKR_USER_ALREADY_LOGGED_IN) throw tokenError("C_Login", e);
    }
    return session;
  }

  #find(s: Handle, cls: number, label: string): Handle[] {
    const { CKA_CLASS, CKA_LABEL } = this.#lib;
    this.#p11.C_FindObjectsInit(s, [
      { type: CKA_CLASS, value: cls },
      { type: CKA_LABEL, value: label },
    ]);
    try {
      return this.#p11.C_FindObjects(s, 2);
    } finally {
      this.#p11.C_FindObjectsFinal(s);
    }
  }

  /** The labels of the key pairs on the token whose label starts with `prefix` (the key store's: "ca/"). */
  async labels(prefix: string): Promise<string[]> {
    const l = this.#lib;
    return this.#withSession((s) => {
      this.#p11.C_FindObjectsInit(s, [{ type: l.CKA_CLASS, value: l.CKO_PRIVATE_KEY }]);
      const handles: Handle[] = [];
      try {
        for (let batch = this.#p11.C_FindObjects(s, 256); batch.length; batch = this.#p11.C_FindObjects(s, 256)) handles.push(...batch);
      } finally {
        this.#p11.C_FindObjectsFinal(s);
      }
      const labels = handles.map((h) => String(this.#p11.C_GetAttributeValue(s, h, [{ type: l.CKA_LABEL }])[0].value));
      return [...new Set(labels.filter((label) => label.startsWith(prefix)))].sort();
    });
  }

  /** The private and public key objects labelled `label` (at most two of each). */
  #labelled(s: Handle, label: string): Handle[] {
    return [...this.#find(s, this.#lib.CKO_PRIVATE_KEY, label), ...this.#find(s, this.#lib.CKO_PUBLIC_KEY, label)];
  }

  /** Destroys every object (private and public key) labelled `label`; returns how many. */
  async destroy(label: string): Promise<number> {
    return this.#withSession((s) => {
      const objects = this.#labelled(s, label);
      try {
        for (const o of objects) this.#p11.C_DestroyObject(s, o);
      } catch (e) {
        throw tokenError("C_DestroyObject", e);
      }
      return objects.length;
    });
  }

  /** True when the token holds any object labelled `label`. */
  async has(label: string): Promise<boolean> {
    return this.#withSession((s) => this.#labelled(s, label).length > 0);
  }

  /**
   * Generates a key pair on the token under `label`, which must be free; the private key is sensitive and can never
   * be exported. Idempotent across the session retry: a token can make the pair and then lose the session before
   * the answer arrives (an HSM failover, a lost reply), and a second pair under the label would make the key
   * unusable (`signer` refuses two). Once the label was seen free, whatever carries it on the retry is the first
   * attempt's, and is destroyed before generating again.
   */
  async generate(label: string, algorithm: KeyAlgorithm): Promise<Signer> {
    const curve = CURVES[algorithm];
    if (!curve) throw new PkiError("key_algorithm_unsupported", "unsupported key algorithm");
    const l = this.#lib;
    const id = createHash("sha256").update(label).digest().subarray(0, 20);
    const common = [
      { type: l.CKA_TOKEN, value: true },
      { type: l.CKA_LABEL, value: label },
      { type: l.CKA_ID, value: id },
    ];
    let free = false; // the label was seen free before this call could have made anything under it
    const made = await this.#withSession(async (s) => {
      const leftover = this.#labelled(s, label);
      if (leftover.length && !free) throw new PkiError("key_exists", `the PKCS#11 token already holds a key ${label}`, 409);
      free = true;
      try {
        for (const o of leftover) this.#p11.C_DestroyObject(s, o);
      } catch (e) {
        throw tokenError("C_DestroyObject", e);
      }
      let pair: { privateKey: Handle; publicKey: Handle };
      try {
        pair = await this.#p11.C_GenerateKeyPairAsync(
          s,
          { mechanism: l.CKM_EC_KEY_PAIR_GEN },
          [...common, { type: l.CKA_EC_PARAMS, value: oid(curve.oid) }, { type: l.CKA_VERIFY, value: true }],
          [
            ...common,
            { type: l.CKA_PRIVATE, value: true },
            { type: l.CKA_SENSITIVE, value: true },
            { type: l.CKA_EXTRACTABLE, value: false },
            { type: l.CKA_SIGN, value: true },
          ],
        );
      } catch (e) {
        throw tokenError("C_GenerateKeyPair", e);
      }
      // read in the same session: a loss here is retried whole, so the pair returned is the one whose key we read
      return { key: pair.privateKey, pub: this.#publicKey(s, pair.publicKey) };
    });
    return this.#signer(label, made.key, made.pub);
  }

  /** The one private and one public key labelled `label`. */
  #pair(s: Handle, label: string): { key: Handle; pub: Handle } {
    const keys = this.#find(s, this.#lib.CKO_PRIVATE_KEY, label);
    const pubs = this.#find(s, this.#lib.CKO_PUBLIC_KEY, label);
    if (keys.length === 0 || pubs.length === 0) throw new PkiError("key_not_found", `the PKCS#11 token holds no key ${label}`, 404);
    if (keys.length > 1 || pubs.length > 1)
      throw new PkiError("pkcs11_key_mismatch", `the PKCS#11 token holds more than one key labelled ${label}`, 500);
    return { key: keys[0], pub: pubs[0] };
  }

  /**
   * The signer of the key labelled `label`, after checking it is a key we would have made: the private and public
   * objects share their CKA_ID, the private key is sensitive and never was extractable, and a test signature
   * verifies under the public key (someone with the PIN could otherwise plant an exportable or unrelated key).
   */
  async signer(label: string): Promise<Signer> {
    const l = this.#lib;
    const { key, pub } = await this.#withSession((s) => {
      const pair = this.#pair(s, label);
      const id = (h: Handle) => this.#p11.C_GetAttributeValue(s, h, [{ type: l.CKA_ID }])[0].value as Buffer;
      if (!id(pair.key).equals(id(pair.pub)))
        throw new PkiError("pkcs11_key_mismatch", `the PKCS#11 objects labelled ${label} are not one key pair (CKA_ID differs)`, 500);
      const p = this.#protection(s, pair.key);
      if (!p.sensitive || p.extractable || !p.alwaysSensitive || !p.neverExtractable)
        throw new PkiError("pkcs11_key_exportable", `the PKCS#11 key ${label} is or was extractable: it is not used`, 500);
      return { key: pair.key, pub: this.#publicKey(s, pair.pub) };
    });
    const signer = this.#signer(label, key, pub);
    const probe = randomBytes(32);
    const verifies = verify(
      HASH_OF[pub.algorithm],
      probe,
      createPublicKey({ key: pub.spki, format: "der", type: "spki" }),
      await signer.sign(probe),
    );
    if (!verifies) throw new PkiError("pkcs11_key_mismatch", `the PKCS#11 key ${label} does not sign for its public key`, 500);
    return signer;
  }

  #protection(s: Handle, key: Handle) {
    const l = this.#lib;
    const flag = (type: number) => (this.#p11.C_GetAttributeValue(s, key, [{ type }])[0].value as Buffer)[0] === 1;
    return {
      sensitive: flag(l.CKA_SENSITIVE),
      extractable: flag(l.CKA_EXTRACTABLE),
      alwaysSensitive: flag(l.CKA_ALWAYS_SENSITIVE),
      neverExtractable: flag(l.CKA_NEVER_EXTRACTABLE),
      private: flag(l.CKA_PRIVATE),
    };
  }

  /** How the private key labelled `label` is protected on the token (the value must not be readable). */
  async keyAttributes(label: string) {
    return this.#withSession((s) => {
      const { key } = this.#pair(s, label);
      let valueReadable = true;
      try {
        this.#p11.C_GetAttributeValue(s, key, [{ type: this.#lib.CKA_VALUE }]);
      } catch {
        valueReadable = false;
      }
      return { ...this.#protection(s, key), valueReadable };
    });
  }

  #publicKey(s: Handle, handle: Handle): { algorithm: KeyAlgorithm; spki: Buffer } {
    const l = this.#lib;
    const [params, point] = this.#p11.C_GetAttributeValue(s, handle, [{ type: l.CKA_EC_PARAMS }, { type: l.CKA_EC_POINT }]);
    const entry = Object.entries(CURVES).find(([, c]) => oid(c.oid).equals(params.value as Buffer));
    if (!entry) throw new PkiError("key_algorithm_unsupported", "the token's key is on an unsupported curve", 500);
    const [algorithm, curve] = entry as [KeyAlgorithm, (typeof CURVES)[KeyAlgorithm]];
    // CKA_EC_POINT is the DER OCTET STRING of the point; a few tokens return the bare point
    let raw = point.value as Buffer;
    if (raw.length === curve.pointBytes + 2 && raw[0] === 0x04 && raw[1] === curve.pointBytes) raw = raw.subarray(2);
    if (raw.length !== curve.pointBytes || raw[0] !== 0x04)
      throw new PkiError("pkcs11_error", "the token's public key is not an uncompressed EC point", 500);
    const spki = sequence(sequence(oid(EC_PUBLIC_KEY), oid(curve.oid)), bitString(raw));
    createPublicKey({ key: spki, format: "der", type: "spki" }); // the point must be on the curve
    return { algorithm, spki };
  }

  #signer(label: string, key: Handle, pub: { algorithm: KeyAlgorithm; spki: Buffer }): Signer {
    const hash = HASH_OF[pub.algorithm];
    const half = (CURVES[pub.algorithm].pointBytes - 1) / 2;
    const mechanism = { mechanism: this.#lib.CKM_ECDSA };
    let handle = key;
    return {
      algorithm: pub.algorithm,
      spki: pub.spki,
      sign: (data) => {
        const digest = createHash(hash).update(data).digest();
        return this.#withSession(async (s, retried) => {
          // a replaced session may see the object under another handle: find it again (the public key is recorded)
          if (retried) handle = this.#pair(s, label).key;
          let raw: Buffer;
          try {
            this.#p11.C_SignInit(s, mechanism, handle);
            raw = await this.#p11.C_SignAsync(s, digest, Buffer.alloc(2 * half));
          } catch (e) {
            throw tokenError("C_Sign", e);
          }
          if (raw.length !== 2 * half) throw new PkiError("pkcs11_error", "the token returned a malformed ECDSA signature", 500);
          return sequence(integer(raw.subarray(0, half)), integer(raw.subarray(half)));
        });
      },
    };
  }
}

/** CA keys on a PKCS#11 token, recorded (public key, token serial) in the key-material repository. */
export class Pkcs11KeyStore implements KeyStore {
  readonly #token: Pkcs11Token;
  readonly #repo: KeyMaterialRepository;

  constructor(token: Pkcs11Token, repo: KeyMaterialRepository) {
    this.#token = token;
    this.#repo = repo;
  }

  async generate(ref: string, algorithm: KeyAlgorithm): Promise<Signer> {
    if ((await this.#repo.get(ref)) || (await this.#token.has(ref)))
      throw new PkiError("key_exists", `a key already exists under ${ref}`, 409);
    const signer = await this.#token.generate(ref, algorithm);
    await this.#repo.put({ ref, algorithm, store: "pkcs11", spki: signer.spki, token: this.#token.serial });
    return signer;
  }

  async signer(ref: string): Promise<Signer> {
    const rec = await this.#repo.get(ref);
    if (!rec) throw new PkiError("key_not_found", `no key under ${ref}`, 404);
    if (rec.store !== "pkcs11") throw new PkiError("key_store_mismatch", `the key ${ref} is not a PKCS#11 key`, 500);
    if (rec.token !== this.#token.serial)
      throw new PkiError(
        "pkcs11_key_mismatch",
        `the key ${ref} is on the PKCS#11 token with serial ${rec.token}, not ${this.#token.serial}`,
        500,
      );
    const signer = await this.#token.signer(ref);
    if (signer.algorithm !== rec.algorithm || !signer.spki.equals(rec.spki))
      throw new PkiError("pkcs11_key_mismatch", `the PKCS#11 token's key ${ref} is not the key this database recorded`, 500);
    return signer;
  }
}
