// The certificate authority of a node, over one directory (the data directory's ca/):
//   ca.key.pem   its private key, encrypted PKCS#8, mode 0600
//   ca.key.uri   or instead: where its key is in a PKCS#11 token (RFC 7512, pkcs11.ts)
//   ca.cert.pem  its certificate
//   chain.pem    its certificate and its issuers up to the root
//   ca.csr.pem   an issuing CA's request, while it waits for its certificate
// A root signs itself and signs issuing CAs; an issuing CA (path length 0) signs end
// entities: birth certificates now, operational certificates over EST next. Files are
// written once ('wx') and never overwritten: a CA is replaced by a new directory, not edited
// (rollover.ts: next/, previous/).
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IcsError } from '../errors.ts';
import { describeCertificate, type IssuedCertificate, keyIdentifier, signCertificate, subjectKeyIdentifierOf } from './certificate.ts';
import { buildChain, isCaCertificate, isSelfSigned, pathLengthOf, samePublicKey } from './chain.ts';
import { verifyCertificateRequest } from './csr.ts';
import { encryptPrivateKey, generatePrivateKey, type KeyAlgorithm, loadSigningKey, publicKeyFromSpki, signatureValue, signingKeyOf, type SigningKey, writePrivateKey } from './keys.ts';
import { issueEndEntity, type LeafSpec } from './leaf.ts';
import { generateTokenKey, openTokenKey, type Pkcs11Reference, type Pkcs11Settings, parsePkcs11Uri, pkcs11Uri } from './pkcs11.ts';
import { BACKDATE_MS, DEFAULT_ROOT_DAYS, DEFAULT_SUBORDINATE_DAYS, MAX_CA_DAYS, MAX_PATH_LENGTH } from './limits.ts';
import { type DistinguishedName, distinguishedName, nameText } from './names.ts';
import { certificatesPem, readCertificates } from './parse.ts';
import { x509 } from './x509.ts';

export const CA_FILES = { key: 'ca.key.pem', keyReference: 'ca.key.uri', certificate: 'ca.cert.pem', chain: 'chain.pem', request: 'ca.csr.pem' } as const;

export type CaRole = 'root' | 'issuing' | 'pending';

/** What `show` tells of a CA: never key material. */
export interface CaInfo {
  readonly role: CaRole;
  readonly subject: string;
  readonly keyAlgorithm: KeyAlgorithm;
  /** "file", or the PKCS#11 token and object that hold the key. */
  readonly keyLocation: string;
  /** Absent while pending. */
  readonly issuer?: string;
  readonly serial?: string;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** SHA-256 of the certificate's DER, lower-case hex. */
  readonly fingerprint?: string;
  readonly pathLength?: number;
  /** Certificates in chain.pem, this one included. */
  readonly chainLength?: number;
  /** Pending: the request to take to the root (`ics ca sign`). */
  readonly requestFile?: string;
}

/** A key made in (or opened from) a PKCS#11 token instead of a file. */
export interface TokenKeyOptions {
  readonly reference: Pkcs11Reference;
  readonly settings: Pkcs11Settings;
}

export interface InitOptions {
  /** Protects the private key (the node's issuer key passphrase); unused for a key in a token. */
  readonly passphrase: string;
  /** Make the key in this PKCS#11 token (never a file). */
  readonly token?: TokenKeyOptions;
  readonly subject: DistinguishedName;
  /** Default p256. */
  readonly algorithm?: KeyAlgorithm;
  readonly now?: Date;
}

export interface RootOptions extends InitOptions {
  /** Validity in days; default DEFAULT_ROOT_DAYS. */
  readonly days?: number;
}

export interface SubordinateOptions {
  /** Validity in days; default DEFAULT_SUBORDINATE_DAYS. */
  readonly days?: number;
  /** basicConstraints pathLenConstraint; default 0 (it signs end entities only). */
  readonly pathLength?: number;
  readonly now?: Date;
}

/** Writes one of the CA's files (and remembers it, to remove it if a later one fails). */
type Writer = (file: keyof typeof CA_FILES, run: () => Promise<void>) => Promise<void>;

const DAY_MS = 86_400_000;
/** AlgorithmIdentifier DER: ecdsa-with-SHA256 (RFC 5758, no parameters) and Ed25519 (RFC 8410). */
const ECDSA_SHA256_DER = Uint8Array.from(Buffer.from('300a06082a8648ce3d040302', 'hex'));
const ED25519_DER = Uint8Array.from(Buffer.from('300506032b6570', 'hex'));

function checkDays(days: number, what: string): number {
  if (!Number.isInteger(days) || days < 1 || days > MAX_CA_DAYS) throw new IcsError('BAD_REQUEST', `${what} must be a whole number of days from 1 to ${MAX_CA_DAYS}`);
  return days;
}

function validity(now: Date, days: number): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + days * DAY_MS) };
}

/** Whether a file or directory is there (other errors than its absence are thrown). */
export async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
}

export class CertificateAuthority {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  path(file: keyof typeof CA_FILES): string {
    return join(this.dir, CA_FILES[file]);
  }

  /** undefined when the directory holds no CA. */
  async role(): Promise<CaRole | undefined> {
    if (!(await pathExists(this.path('key'))) && !(await pathExists(this.path('keyReference')))) return undefined;
    if (!(await pathExists(this.path('certificate')))) return 'pending';
    return (await isSelfSigned(await this.#certificate())) ? 'root' : 'issuing';
  }

  /** A self-signed root: basicConstraints cA (critical), keyUsage keyCertSign and cRLSign (critical), SKI, AKI. */
  async initRoot(options: RootOptions): Promise<CaInfo> {
    const subject = distinguishedName(options.subject);
    const days = checkDays(options.days ?? DEFAULT_ROOT_DAYS, 'the validity');
    const { key, writeKey } = await this.#newKey(options);
    const ski = await keyIdentifier(key.spki);
    const issued = await signCertificate(
      { name: subject, keyIdentifier: ski, key },
      {
        subject,
        publicKey: key.spki,
        ...validity(options.now ?? new Date(), days),
        extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
      },
    );
    await this.#writeAll(async (write) => {
      await writeKey(write);
      await write('certificate', () => writeFile(this.path('certificate'), issued.pem, { flag: 'wx' }));
      await write('chain', () => writeFile(this.path('chain'), issued.pem, { flag: 'wx' }));
    });
    return this.show();
  }

  /** An issuing CA's key and request; the CA is pending until `install` gets its certificate. */
  async initIssuing(options: InitOptions): Promise<{ info: CaInfo; requestPem: string }> {
    const subject = distinguishedName(options.subject);
    const { key, writeKey } = await this.#newKey(options);
    const request = await key.use(({ privateKey, publicKey, crypto }) =>
      x509.Pkcs10CertificateRequestGenerator.create({ name: subject, keys: { privateKey, publicKey }, signingAlgorithm: key.signingAlgorithm }, crypto),
    );
    const requestPem = `${request.toString('pem')}\n`;
    await this.#writeAll(async (write) => {
      await writeKey(write);
      await write('request', () => writeFile(this.path('request'), requestPem, { flag: 'wx' }));
    });
    return { info: await this.show(), requestPem };
  }

  /**
   * Installs a pending CA's certificate: it must be for the pending key, a CA certificate,
   * and chain (with `chainPem`, or certificates following it in `certificatePem`) to a
   * self-signed root. Nothing is written unless all holds.
   */
  async install(certificatePem: string | Uint8Array, chainPem?: string | Uint8Array, now = new Date()): Promise<CaInfo> {
    if ((await this.role()) !== 'pending') throw new IcsError('BAD_REQUEST', `no CA in ${this.dir} is waiting for its certificate`);
    const [certificate, ...rest] = readCertificates(certificatePem, 'CA certificate');
    if (!certificate) throw new IcsError('BAD_REQUEST', 'no certificate given');
    const pool = [...rest, ...(chainPem === undefined ? [] : readCertificates(chainPem, 'chain'))];
    const { spki } = await verifyCertificateRequest(await readFile(this.path('request'), 'utf8'));
    if (!samePublicKey(certificate.publicKey, spki)) {
      throw new IcsError('BAD_REQUEST', `the certificate (${certificate.subject}) is for another key, not this CA's pending key`);
    }
    if (!isCaCertificate(certificate)) throw new IcsError('BAD_REQUEST', 'the certificate is not a CA certificate (basicConstraints cA, keyUsage keyCertSign)');
    const chain = await buildChain(certificate, pool, now, true);
    const chainText = certificatesPem(chain);
    await this.#writeAll(async (write) => {
      await write('certificate', () => writeFile(this.path('certificate'), `${certificate.toString('pem')}\n`, { flag: 'wx' }));
      await write('chain', () => writeFile(this.path('chain'), chainText, { flag: 'wx' }));
    });
    await rm(this.path('request'), { force: true });
    return this.show();
  }

  async show(): Promise<CaInfo> {
    const role = await this.role();
    if (role === undefined) throw new IcsError('NOT_FOUND', `no certificate authority in ${this.dir} (ics ca init makes one)`);
    if (role === 'pending') {
      const { subject, algorithm } = await verifyCertificateRequest(await readFile(this.path('request'), 'utf8'));
      return { role, subject: nameText(subject), keyAlgorithm: algorithm, keyLocation: await this.#keyLocation(), requestFile: this.path('request') };
    }
    const certificate = await this.#certificate();
    const described = describeCertificate(certificate);
    const chain = readCertificates(await readFile(this.path('chain'), 'utf8'), 'chain');
    const pathLength = pathLengthOf(certificate);
    return {
      role,
      subject: described.subject,
      keyAlgorithm: publicKeyFromSpki(new Uint8Array(certificate.publicKey.rawData)).algorithm,
      keyLocation: await this.#keyLocation(),
      issuer: nameText(certificate.issuerName),
      serial: described.serial,
      notBefore: described.notBefore,
      notAfter: described.notAfter,
      fingerprint: described.fingerprint,
      ...(pathLength !== undefined && { pathLength }),
      chainLength: chain.length,
    };
  }

  /** An installed CA's certificate and chain (no key): what verifying its certificates needs. */
  async published(): Promise<{ certificate: x509.X509Certificate; chain: readonly x509.X509Certificate[] }> {
    const role = await this.role();
    if (role === undefined || role === 'pending') throw new IcsError('NOT_FOUND', `no installed certificate authority in ${this.dir}`);
    return { certificate: await this.#certificate(), chain: readCertificates(await readFile(this.path('chain'), 'utf8'), 'chain') };
  }

  /**
   * The CA ready to sign: its key decrypted with `passphrase`, or opened in its PKCS#11 token
   * with `pkcs11` (KEY_UNUSABLE if it cannot be; UNAVAILABLE while the token cannot be reached).
   */
  async unlock(passphrase: string, pkcs11?: Pkcs11Settings): Promise<UnlockedAuthority> {
    const role = await this.role();
    if (role === undefined) throw new IcsError('NOT_FOUND', `no certificate authority in ${this.dir} (ics ca init makes one)`);
    if (role === 'pending') throw new IcsError('BAD_REQUEST', `the CA in ${this.dir} waits for its certificate (ics ca install)`);
    const key = await this.#openKey(passphrase, pkcs11);
    const certificate = await this.#certificate();
    if (!samePublicKey(certificate.publicKey, key.spki)) throw new IcsError('KEY_UNUSABLE', `the key (${key.location}) is not the key of ${this.path('certificate')}`);
    const chain = readCertificates(await readFile(this.path('chain'), 'utf8'), 'chain');
    return new UnlockedAuthority(role, certificate, chain, key, await subjectKeyIdentifierOf(certificate));
  }

  async #certificate(): Promise<x509.X509Certificate> {
    const [certificate] = readCertificates(await readFile(this.path('certificate'), 'utf8'), 'CA certificate');
    if (!certificate) throw new IcsError('INTERNAL', `${this.path('certificate')} holds no certificate`);
    return certificate;
  }

  /**
   * A new key for this CA — in the token when `options.token` names one (made there, after the
   * directory is checked, so that a refused init leaves no key behind), else a file — and how
   * its file (the key, or the reference to it) is written.
   */
  async #newKey(options: InitOptions): Promise<{ key: SigningKey; writeKey: (write: Writer) => Promise<void> }> {
    if (options.token) {
      const { reference, settings } = options.token;
      await this.#refuseExisting();
      const key = await generateTokenKey(settings, reference, options.algorithm ?? 'p256');
      const uri = `${pkcs11Uri(reference)}\n`;
      return { key, writeKey: (write) => write('keyReference', () => writeFile(this.path('keyReference'), uri, { flag: 'wx', mode: 0o600 })) };
    }
    const privateKey = generatePrivateKey(options.algorithm ?? 'p256');
    const keyPem = encryptPrivateKey(privateKey, options.passphrase);
    await this.#refuseExisting();
    return { key: await signingKeyOf(privateKey), writeKey: (write) => write('key', () => writePrivateKey(this.path('key'), keyPem)) };
  }

  /** The CA's key: its file decrypted with `passphrase`, or its token's (the node's pkcs11 settings). */
  async #openKey(passphrase: string, settings: Pkcs11Settings | undefined): Promise<SigningKey> {
    if (!(await pathExists(this.path('keyReference')))) return loadSigningKey(this.path('key'), passphrase);
    const reference = parsePkcs11Uri((await readFile(this.path('keyReference'), 'utf8')).trim());
    if (!settings && !reference.modulePath) throw new IcsError('KEY_UNUSABLE', `the CA's key is in the PKCS#11 token "${reference.token}": the node's config needs a pkcs11 section (module, pinFile or pinEnv)`);
    return openTokenKey(settings ?? { module: reference.modulePath as string }, reference);
  }

  /** Where the key is: "file", or the token and object (never more). */
  async #keyLocation(): Promise<string> {
    if (!(await pathExists(this.path('keyReference')))) return 'file';
    const reference = parsePkcs11Uri((await readFile(this.path('keyReference'), 'utf8')).trim());
    return `PKCS#11 token "${reference.token}", object "${reference.object}"`;
  }

  async #refuseExisting(): Promise<void> {
    for (const file of Object.keys(CA_FILES) as Array<keyof typeof CA_FILES>) {
      if (await pathExists(this.path(file))) throw new IcsError('BAD_REQUEST', `${this.dir} already holds a certificate authority (${CA_FILES[file]}): it is never overwritten`);
    }
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Runs the writes; if one fails, removes the files the earlier ones created, and rethrows. */
  async #writeAll(task: (write: Writer) => Promise<void>): Promise<void> {
    const written: string[] = [];
    try {
      await task(async (file, run) => {
        await run();
        written.push(this.path(file));
      });
    } catch (error) {
      for (const path of written) await rm(path, { force: true });
      throw error;
    }
  }
}

/** A CA whose key is decrypted: it signs until dropped. */
export class UnlockedAuthority {
  readonly role: 'root' | 'issuing';
  readonly certificate: x509.X509Certificate;
  /** This CA's certificate and its issuers up to the root. */
  readonly chain: readonly x509.X509Certificate[];
  readonly #key: SigningKey;
  readonly #keyIdentifier: string;

  constructor(role: 'root' | 'issuing', certificate: x509.X509Certificate, chain: readonly x509.X509Certificate[], key: SigningKey, keyId: string) {
    this.role = role;
    this.certificate = certificate;
    this.chain = chain;
    this.#key = key;
    this.#keyIdentifier = keyId;
  }

  get algorithm(): KeyAlgorithm {
    return this.#key.algorithm;
  }

  /** chain.pem's text. */
  chainPem(): string {
    return certificatesPem(this.chain);
  }

  #signer() {
    return { name: this.certificate.subjectName, keyIdentifier: this.#keyIdentifier, key: this.#key };
  }

  /** Hex key identifier of this CA's key (its certificate's SKI): what its CRLs name as authority key identifier. */
  get keyIdentifier(): string {
    return this.#keyIdentifier;
  }

  /** DER AlgorithmIdentifier of this CA's signatures: ecdsa-with-SHA256 (P-256) or Ed25519. */
  get signatureAlgorithm(): Uint8Array {
    return this.#key.algorithm === 'p256' ? ECDSA_SHA256_DER : ED25519_DER;
  }

  /** Signs the DER of a TBSCertList that crl.ts made for this CA. Nothing else is signed this way. */
  signCertList(tbs: Uint8Array): Promise<Uint8Array> {
    return signatureValue(this.#key, tbs);
  }

  /** An end-entity certificate (never a CA: see `signSubordinate`). */
  issue(spec: LeafSpec): Promise<IssuedCertificate> {
    return issueEndEntity(this.#signer(), spec);
  }

  /**
   * A root certifies an issuing CA's request: the request's signature verified, its subject
   * and key kept, basicConstraints cA with the path length (critical), keyUsage keyCertSign,
   * cRLSign and digitalSignature (critical), AKI from this root's SKI.
   */
  async signSubordinate(requestPem: string | Uint8Array, options: SubordinateOptions = {}): Promise<IssuedCertificate> {
    if (this.role !== 'root') throw new IcsError('BAD_REQUEST', 'only a root CA signs CA certificates (an issuing CA has path length 0)');
    const days = checkDays(options.days ?? DEFAULT_SUBORDINATE_DAYS, 'the validity');
    const pathLength = options.pathLength ?? 0;
    if (!Number.isInteger(pathLength) || pathLength < 0 || pathLength > MAX_PATH_LENGTH) {
      throw new IcsError('BAD_REQUEST', `the path length must be a whole number from 0 to ${MAX_PATH_LENGTH}`);
    }
    const request = await verifyCertificateRequest(requestPem);
    if (request.subject.toJSON().length === 0) throw new IcsError('BAD_REQUEST', 'the certificate request names no subject');
    const usages = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature;
    return signCertificate(this.#signer(), {
      subject: request.subject,
      publicKey: request.spki,
      ...validity(options.now ?? new Date(), days),
      extensions: [new x509.BasicConstraintsExtension(true, pathLength, true), new x509.KeyUsagesExtension(usages, true)],
    });
  }
}
