// Outside tools the interop tests run (gpg, ldapsearch, openssl, slapd, …). A missing tool
// fails the test naming the Debian package that brings it: a test never passes or skips
// silently because the machine lacks something.
import { execFileSync } from 'node:child_process';

const found = new Map<string, boolean>();

function onPath(command: string): boolean {
  let known = found.get(command);
  if (known === undefined) {
    try {
      execFileSync('sh', ['-c', `command -v "$1"`, 'sh', command], { stdio: 'ignore' });
      known = true;
    } catch {
      known = false;
    }
    found.set(command, known);
  }
  return known;
}

/** Throws (failing the test) unless `command` is on the PATH. */
export function requireTool(command: string, debianPackage: string): void {
  if (!onPath(command)) {
    throw new Error(`${command} not found: install the Debian package ${debianPackage} (scripts/install-test-deps.sh installs every tool the tests need)`);
  }
}
