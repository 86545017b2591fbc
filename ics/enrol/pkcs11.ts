// Signing keys in a PKCS#11 token (an HSM, or SoftHSM in the tests), named by RFC 7512 URIs
// ("pkcs11:token=ics;object=ca"). The token makes the key and signs with it; the private key
// never leaves it, and nothing here reads, logs or exports it. The binding is
// node-webcrypto-p11 (a WebCrypto provider over PKCS#11, by the authors of @peculiar/x509,
// which signs certificates with it directly), an optional dependency: it is a native addon,
// and a machine without a compiler installs the node without it — a key reference then is a
// clear error, never a silent fallback to a file.
//
// A token that goes away (removed, its PIN changed) fails the signatures asked of it with
// UNAVAILABLE; the session is dropped, and the next signature opens a new one, so the node
// signs again once the token is back, without a restart.
import { readFile } from 'node:fs/promises';
import { IcsError } from '../errors.ts';
import type { KeyAlgorithm, SigningKey } from './keys.ts';

/** Where the PKCS#11 module is and where its PIN comes from (a file or an environment variable, never the command line). */
export interface Pkcs11Settings {
  /** Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so). */
  readonly module: string;
  /** A file holding the user PIN (mode 0600). */
  readonly pinFile?: string;
  /** An environment variable holding the user PIN; default ICS_PKCS11_PIN. */
  readonly pinEnv?: string;
}

/** An RFC 7512 key reference: the token's label and the key object's label. */
export interface Pkcs11Reference {
  readonly token: string;
  readonly object: string;
  /** `module-path` from the URI's query, when it names one. */
  readonly modulePath?: string;
}

const DEFAULT_PIN_ENV = 'ICS_PKCS11_PIN';

/** Parses `pkcs11:token=…;object=…[;type=private][?module-path=…]` (RFC 7512; values percent-encoded). */
export function parsePkcs11Uri(uri: string): Pkcs11Reference {
  const bad = (why: string) => new IcsError('BAD_REQUEST', `not a usable PKCS#11 key reference (${why}): e.g. pkcs11:token=ics;object=ca`);
  if (!uri.startsWith('pkcs11:')) throw bad('it must start with "pkcs11:"');
  const [path = '', query] = uri.slice('pkcs11:'.length).split('?', 2);
  const attributes = new Map<string, string>();
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw bad(`"${text}" is not percent-encoded well`);
    }
  };
  for (const part of path.split(';').filter((p) => p.length > 0)) {
    const at = part.indexOf('=');
    if (at <= 0) throw bad(`"${part}" is not name=value`);
    const name = part.slice(0, at);
    if (attributes.has(name)) throw bad(`${name} is given twice`);
    attributes.set(name, decode(part.slice(at + 1)));
  }
  const queryAttributes = new Map<string, string>();
  for (const part of (query ?? '').split('&').filter((p) => p.length > 0)) {
    const at = part.indexOf('=');
    if (at <= 0) throw bad(`"${part}" is not name=value`);
    queryAttributes.set(part.slice(0, at), decode(part.slice(at + 1)));
  }
  // A PIN written into a reference ends up in configs, shells and process lists.
  if (queryAttributes.has('pin-value')) throw bad('a PIN is never given in the reference: use the pkcs11 pinFile or pinEnv setting');
  const type = attributes.get('type');
  if (type !== undefined && type !== 'private') throw bad(`type=${type}: a signing key is a private key`);
  const token = attributes.get('token');
  const object = attributes.get('object');
  if (!token) throw bad('no token=');
  if (!object) throw bad('no object=');
  const modulePath = queryAttributes.get('module-path');
  return { token, object, ...(modulePath && { modulePath }) };
}

/** The reference as a URI (what the CA directory keeps instead of a key file). */
export function pkcs11Uri(reference: Pkcs11Reference): string {
  const encode = (text: string) => encodeURIComponent(text);
  return `pkcs11:token=${encode(reference.token)};object=${encode(reference.object)};type=private`;
}

// ---- the binding ---------------------------------------------------------------------------

/** The parts of node-webcrypto-p11 used here. */
interface P11Crypto {
  readonly subtle: SubtleCrypto;
  readonly keyStorage: { keys(): Promise<string[]>; getItem(index: string): Promise<CryptoKey> };
  readonly token?: { readonly label?: string };
  close(): void;
}
type P11CryptoConstructor = new (params: { library: string; slot: number; readWrite: boolean; pin?: string; name?: string }) => P11Crypto;

let binding: Promise<P11CryptoConstructor> | undefined;

async function loadBinding(): Promise<P11CryptoConstructor> {
  binding ??= import('node-webcrypto-p11').then(
    (module) => (module as unknown as { Crypto: P11CryptoConstructor }).Crypto,
    (cause: unknown) => {
      binding = undefined;
      throw new IcsError('UNAVAILABLE', 'PKCS#11 support is not installed on this machine: the optional dependency node-webcrypto-p11 (a native addon, built with a C++ compiler) is missing', {
        cause,
      });
    },
  );
  return binding;
}

async function readPin(settings: Pkcs11Settings): Promise<string> {
  if (settings.pinFile) {
    const text = await readFile(settings.pinFile, 'utf8').catch((cause: unknown) => {
      throw new IcsError('KEY_UNUSABLE', `the PKCS#11 PIN file ${settings.pinFile} cannot be read`, { cause });
    });
    return text.replace(/\r?\n$/, '');
  }
  const name = settings.pinEnv ?? DEFAULT_PIN_ENV;
  const pin = process.env[name];
  if (pin === undefined || pin === '') throw new IcsError('KEY_UNUSABLE', `no PIN for the PKCS#11 token: set ${name} (or the pkcs11 pinFile setting)`);
  return pin;
}

/** Slots a module lists at most (a slot past the last answers an error). */
const MAX_SLOTS = 64;

const labelOf = (key: CryptoKey) => (key as unknown as { p11Object?: { label?: string } }).p11Object?.label;

/** A session with the token that holds `reference.token`, logged in with the PIN. */
async function openToken(settings: Pkcs11Settings, reference: Pkcs11Reference): Promise<P11Crypto> {
  const Crypto = await loadBinding();
  const library = reference.modulePath ?? settings.module;
  const pin = await readPin(settings);
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    let probe: P11Crypto;
    try {
      probe = new Crypto({ library, slot, readWrite: true });
    } catch (cause) {
      if (slot === 0) throw new IcsError('UNAVAILABLE', `the PKCS#11 module ${library} cannot be used`, { cause });
      break;
    }
    const label = probe.token?.label?.trim();
    probe.close();
    if (label !== reference.token) continue;
    try {
      return new Crypto({ library, slot, readWrite: true, pin });
    } catch (cause) {
      const text = String((cause as Error).message ?? cause);
      if (/PIN_INCORRECT|PIN_LOCKED|PIN_INVALID/.test(text)) throw new IcsError('KEY_UNUSABLE', `the PIN does not open the PKCS#11 token "${reference.token}"`, { cause });
      throw new IcsError('UNAVAILABLE', `the PKCS#11 token "${reference.token}" cannot be opened`, { cause });
    }
  }
  throw new IcsError('UNAVAILABLE', `no PKCS#11 token labelled "${reference.token}" in ${library}`);
}

async function findKeys(crypto: P11Crypto, object: string): Promise<{ privateKey?: CryptoKey; publicKey?: CryptoKey }> {
  const found: { privateKey?: CryptoKey; publicKey?: CryptoKey } = {};
  for (const index of await crypto.keyStorage.keys()) {
    if (!index.startsWith('private-') && !index.startsWith('public-')) continue;
    const key = await crypto.keyStorage.getItem(index);
    if (labelOf(key) !== object) continue;
    if (key.type === 'private') found.privateKey = key;
    else found.publicKey = key;
  }
  return found;
}

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/**
 * Makes a P-256 key pair on the token, labelled `reference.object` (sensitive, not
 * extractable: the token never lets the private key out). BAD_REQUEST when the token already
 * holds a key by that label.
 */
export async function generateTokenKey(settings: Pkcs11Settings, reference: Pkcs11Reference, algorithm: KeyAlgorithm): Promise<SigningKey> {
  // node-webcrypto-p11 2.8 signs ECDSA on tokens; its Ed25519 is not there yet.
  if (algorithm !== 'p256') throw new IcsError('ALGORITHM_UNSUPPORTED', `a key on a PKCS#11 token is P-256 here (not ${algorithm})`);
  const crypto = await openToken(settings, reference);
  try {
    const existing = await findKeys(crypto, reference.object);
    if (existing.privateKey || existing.publicKey) throw new IcsError('BAD_REQUEST', `the token "${reference.token}" already holds a key "${reference.object}": it is never replaced`);
    await crypto.subtle.generateKey({ ...EC_P256, token: true, sensitive: true, label: reference.object } as EcKeyGenParams, false, ['sign', 'verify']);
  } finally {
    crypto.close();
  }
  return openTokenKey(settings, reference);
}

/** A key already on the token, ready to sign. KEY_UNUSABLE when the token holds no such key (or a wrong PIN is given). */
export async function openTokenKey(settings: Pkcs11Settings, reference: Pkcs11Reference): Promise<SigningKey> {
  const key = new TokenKey(settings, reference);
  return key.open();
}

/** A token key: one session, opened again after a failure. */
class TokenKey {
  #session: Promise<{ crypto: P11Crypto; privateKey: CryptoKey; publicKey: CryptoKey }> | undefined;

  constructor(
    private readonly settings: Pkcs11Settings,
    private readonly reference: Pkcs11Reference,
  ) {}

  #connect(): Promise<{ crypto: P11Crypto; privateKey: CryptoKey; publicKey: CryptoKey }> {
    this.#session ??= (async () => {
      const crypto = await openToken(this.settings, this.reference);
      const { privateKey, publicKey } = await findKeys(crypto, this.reference.object).catch((cause: unknown) => {
        crypto.close();
        throw new IcsError('UNAVAILABLE', `the PKCS#11 token "${this.reference.token}" cannot list its keys`, { cause });
      });
      if (!privateKey || !publicKey) {
        crypto.close();
        throw new IcsError('KEY_UNUSABLE', `the PKCS#11 token "${this.reference.token}" holds no key "${this.reference.object}"`);
      }
      return { crypto, privateKey, publicKey };
    })().catch((error: unknown) => {
      this.#session = undefined;
      throw error;
    });
    return this.#session;
  }

  #drop(): void {
    const session = this.#session;
    this.#session = undefined;
    void session?.then((s) => s.crypto.close()).catch(() => undefined);
  }

  async open(): Promise<SigningKey> {
    const { crypto, publicKey } = await this.#connect();
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', publicKey));
    const where = `PKCS#11 token "${this.reference.token}", object "${this.reference.object}"`;
    return {
      algorithm: 'p256',
      spki,
      signingAlgorithm: ECDSA_SHA256,
      location: where,
      use: async (sign) => {
        let session;
        try {
          session = await this.#connect();
        } catch (error) {
          throw new IcsError('UNAVAILABLE', `the ${where} cannot sign now: ${(error as Error).message}`, { cause: error });
        }
        try {
          return await sign({ privateKey: session.privateKey, publicKey: session.publicKey, crypto: session.crypto as unknown as Crypto });
        } catch (error) {
          if (error instanceof IcsError) throw error;
          // The token may be gone or changed: the next signature opens a new session.
          this.#drop();
          throw new IcsError('UNAVAILABLE', `the ${where} did not sign: ${(error as Error).message}`, { cause: error });
        }
      },
    };
  }
}
