// @peculiar/x509, set up once for the area: its dependency injection (tsyringe) needs a
// Reflect metadata polyfill loaded before it, and it signs and verifies with Node's own
// WebCrypto. Every module here imports x509 through this file, so the order always holds.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
