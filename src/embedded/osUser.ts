// The unprivileged OS user PostgreSQL runs as when pgscope itself runs as root, and what that
// user can reach: a root-owned private folder (a clone under /root, any 0700 directory) hides
// both the binaries and the data directory from it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root: run it as an unprivileged OS user, created if missing. */
export function ensureOsUser(name: string): OsUser {
  const lookup = () => spawnSync('id', ['-u', name], { encoding: 'utf8' });
  if (lookup().status !== 0) {
    const created = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', name], {
      encoding: 'utf8',
    });
    if (created.status !== 0) {
      throw new Error(`PostgreSQL cannot run as root and creating the OS user "${name}" failed: ${created.stderr.trim()}`);
    }
  }
  const uid = Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim());
  return { name, uid, gid };
}

/** spawn options that run a child as `user` (undefined: as this process's user). */
export const asUser = (user: OsUser | undefined) => (user ? { uid: user.uid, gid: user.gid } : {});

/**
 * Asks the kernel rather than reading modes: `test` runs as `user` (with only its primary group,
 * as the server will: Node drops supplementary groups when it sets uid), so ACLs, every parent
 * folder and mount options count.
 */
export function canReach(user: OsUser | undefined, test: string[]): boolean {
  return spawnSync('test', test, asUser(user)).status === 0;
}

/** A folder the server may write in. */
export const canUseFolder = (user: OsUser | undefined, dir: string) => canReach(user, ['-w', dir, '-a', '-x', dir]);

/**
 * Binaries the server can run: `postgres --version` actually executes (its folder, its shared
 * libraries), initdb may run, and the install's share folder (initdb's templates) can be read.
 */
export function canRunBinaries(user: OsUser | undefined, binDir: string): boolean {
  const version = spawnSync(path.join(binDir, 'postgres'), ['--version'], asUser(user));
  if (version.status !== 0) return false;
  const share = path.join(path.dirname(binDir), 'share');
  const shareTest = fs.existsSync(share) ? ['-a', '-r', share, '-a', '-x', share] : [];
  return canReach(user, ['-x', path.join(binDir, 'initdb'), ...shareTest]);
}

export function assertReachable(dir: string, runAs: OsUser | undefined): void {
  if (runAs && !canUseFolder(runAs, dir)) throw unreachableFolder(dir, runAs);
}

export function unreachableFolder(dir: string, runAs: OsUser): Error {
  return new Error(
    `PostgreSQL runs as the OS user "${runAs.name}" (it refuses root), and that user cannot reach ${dir}. ` +
      'Set PGSCOPE_EMBEDDED_DIR to a folder it can reach, or leave it unset to let pgscope choose one.',
  );
}
