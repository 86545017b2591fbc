// CA rollover: a node changes its issuing CA without a day on which devices cannot renew.
//   ca/          the current CA: it issues
//   ca/next/     the coming CA, made (`ics ca init --issuing --next`), signed at the root and
//                installed (`ics ca install --next`) while the current one keeps issuing
//   ca/previous/ the CA before the last rollover: its certificates stay good until they
//                expire, it is served in cacerts beside the current one, and a device holding
//                one of its certificates renews (simplereenroll) onto the current CA
//   ca/retired/<time>/  older ones, kept (their certificates may still need revoking)
// `rollOver` makes next current and current previous. It only renames files within ca/, and
// each step is one it can take again: interrupted, it is run again and finishes.
import { mkdir, readdir, rename, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { IcsError } from '../errors.ts';
import { CA_FILES, type CaInfo, CertificateAuthority, pathExists } from './ca.ts';

export const NEXT_DIR = 'next';
export const PREVIOUS_DIR = 'previous';
export const RETIRED_DIR = 'retired';
/** previous/ while it fills: renamed into place once it holds the whole former CA. */
const PREVIOUS_FILLING = 'previous.new';

/** The CA files present in `dir`. */
async function caFilesIn(dir: string): Promise<string[]> {
  const names = new Set(await readdir(dir).catch(() => [] as string[]));
  return Object.values(CA_FILES).filter((f) => names.has(f));
}

async function moveFiles(from: string, to: string): Promise<void> {
  for (const file of await caFilesIn(from)) await rename(join(from, file), join(to, file));
}

/** The node's CAs around `dir` (its data directory's ca/). */
export class CaGenerations {
  constructor(readonly dir: string) {}

  get current(): CertificateAuthority {
    return new CertificateAuthority(this.dir);
  }

  get next(): CertificateAuthority {
    return new CertificateAuthority(join(this.dir, NEXT_DIR));
  }

  get previous(): CertificateAuthority {
    return new CertificateAuthority(join(this.dir, PREVIOUS_DIR));
  }

  /**
   * Next becomes current, current becomes previous, and a previous one is retired. Refused
   * (nothing moved) unless a next CA is installed; after an interruption, finishes what the
   * interrupted run began.
   */
  async rollOver(now = new Date()): Promise<{ current: CaInfo; previous: CaInfo; retired?: string }> {
    const filling = join(this.dir, PREVIOUS_FILLING);
    const previousDir = join(this.dir, PREVIOUS_DIR);
    const nextRole = await this.next.role();
    const resuming = (await pathExists(filling)) || ((await caFilesIn(this.dir)).length === 0 && nextRole !== undefined);
    let retired: string | undefined;
    if (!resuming) {
      if (nextRole === undefined) throw new IcsError('BAD_REQUEST', `no next CA in ${this.next.dir}: make one with ics ca init --issuing --next, then ics ca install --next`);
      if (nextRole === 'pending') throw new IcsError('BAD_REQUEST', `the next CA in ${this.next.dir} waits for its certificate (ics ca install --next)`);
      const currentRole = await this.current.role();
      if (currentRole === undefined || currentRole === 'pending') throw new IcsError('BAD_REQUEST', `no installed CA in ${this.dir} to roll over from`);
      if (await pathExists(previousDir)) {
        retired = join(this.dir, RETIRED_DIR, now.toISOString().replace(/[:.]/g, '-'));
        await mkdir(join(this.dir, RETIRED_DIR), { recursive: true, mode: 0o700 });
        await rename(previousDir, retired);
      }
      await mkdir(filling, { mode: 0o700 });
    }
    if (await pathExists(filling)) {
      await moveFiles(this.dir, filling);
      await rename(filling, previousDir);
    }
    if ((await caFilesIn(this.next.dir)).length > 0) {
      await moveFiles(this.next.dir, this.dir);
      await rmdir(this.next.dir);
    }
    return { current: await this.current.show(), previous: await this.previous.show(), ...(retired !== undefined && { retired }) };
  }
}
