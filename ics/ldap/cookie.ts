// Paged-results cookies (RFC 2696) that tell the client nothing and cannot be forged: the
// page state (which may hold the id of a record the client may not read) is sealed with
// AES-256-GCM under a key made when the server starts, and bound, as associated data, to
// the connection, the bind identity and the search (base, scope, filter, attributes). A
// cookie altered, forged, from another connection or bind, or from another search fails to
// open. RFC 2696 §3 leaves a bad cookie's answer to the server: unwillingToPerform (53).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 2;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class CookieSealer {
  /** Per server start: cookies do not outlive the process (nor should the searches they continue). */
  readonly #key = randomBytes(32);

  seal(state: unknown, binding: Uint8Array): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce).setAAD(binding);
    const body = Buffer.concat([cipher.update(JSON.stringify(state), 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.of(VERSION), nonce, body, cipher.getAuthTag()]);
  }

  /** The sealed state, or undefined when the cookie is not one this server made for `binding`. */
  open(cookie: Uint8Array, binding: Uint8Array): unknown {
    if (cookie.length < 1 + NONCE_BYTES + TAG_BYTES + 1 || cookie[0] !== VERSION) return undefined;
    const nonce = cookie.subarray(1, 1 + NONCE_BYTES);
    const body = cookie.subarray(1 + NONCE_BYTES, cookie.length - TAG_BYTES);
    const tag = cookie.subarray(cookie.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce).setAAD(binding).setAuthTag(tag);
      const text = Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }
}
