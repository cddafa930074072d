// Where the embedded server's binaries and data live when pgscope runs as root. PostgreSQL runs
// as the OS user postgres then, and a clone under /root (or any 0700 folder) hides from that user
// both the binaries in node_modules and the default data folder ./.pgscope. Instead of asking for
// a setting, pgscope copies the binaries once to a root-owned, world-readable cache and keeps the
// data under /var/lib/pgscope, and says so in the start banner. As an ordinary user nothing moves:
// PostgreSQL runs as that same user, who can reach their own folders.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { restoreLibrarySymlinks, serverVersion } from './binaries.js';
import { assertReachable, canRunBinaries, canUseFolder, unreachableFolder, type OsUser } from './osUser.js';

export interface PlacementRoots {
  /** Copies of binaries the OS user cannot reach, one folder per source. Default /var/cache/pgscope. */
  binaries: string;
  /** Data folders moved out of unreachable default folders, one per project. Default /var/lib/pgscope. */
  data: string;
}

export const DEFAULT_ROOTS: PlacementRoots = { binaries: '/var/cache/pgscope', data: '/var/lib/pgscope' };

export interface PlacedBinaries {
  binDir: string;
  /** The bin folder the OS user could not reach, when `binDir` is a copy of its install. */
  copiedFrom?: string;
}

/**
 * Binaries `runAs` can run: `binDir` itself when reachable, else a copy of its install folder
 * (bin, lib, share: the parent of bin) under `cacheRoot`, made once and reused.
 */
export function placeBinaries(binDir: string, runAs: OsUser | undefined, cacheRoot: string, log: (line: string) => void): PlacedBinaries {
  if (!runAs) return { binDir };
  // Through symlinks first: node_modules linked from a reachable store needs no copy.
  const source = fs.realpathSync(binDir);
  if (canRunBinaries(runAs, source)) return { binDir: source };
  const copy = path.join(cacheRoot, cacheName(source));
  if (!fs.existsSync(copy)) {
    log(`Copying the PostgreSQL binaries to ${copy} (once): the OS user ${runAs.name} cannot reach ${source}.`);
    copyTree(path.dirname(source), copy, cacheRoot);
  }
  const placed = path.join(copy, path.basename(source));
  if (!canRunBinaries(runAs, placed)) {
    throw new Error(`The OS user "${runAs.name}" cannot run the PostgreSQL binaries in ${source}, nor their copy in ${placed}.`);
  }
  return { binDir: placed, copiedFrom: source };
}

/**
 * postgresql-<version>-<hash of the source path and its files' sizes and times>: a reinstall or
 * upgrade at the same path gets a new copy (npm stamps every file with the same date, hence sizes).
 */
export function cacheName(binDir: string): string {
  const root = path.dirname(binDir);
  const listing = ['bin', 'lib'].flatMap((sub) => {
    const dir = path.join(root, sub);
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir)
      .sort()
      .map((name) => {
        const stat = fs.lstatSync(path.join(dir, name));
        return `${sub}/${name}:${stat.size}:${stat.mtimeMs}`;
      });
  });
  const hash = createHash('sha256')
    .update([binDir, ...listing].join('\n'))
    .digest('hex')
    .slice(0, 12);
  return `postgresql-${serverVersion(binDir)}-${hash}`;
}

/** Copies `source` to `target` atomically: a temporary folder renamed once complete and readable by all. */
function copyTree(source: string, target: string, cacheRoot: string): void {
  ensureRootFolder(cacheRoot);
  removeAbandonedCopies(cacheRoot);
  const temp = fs.mkdtempSync(path.join(cacheRoot, '.incomplete-'));
  try {
    // verbatimSymlinks keeps relative library links relative (pointing into the copy).
    fs.cpSync(source, temp, { recursive: true, verbatimSymlinks: true });
    restoreLibrarySymlinks(temp);
    makeReadableByAll(temp);
    try {
      fs.renameSync(temp, target);
    } catch (error) {
      // Another pgscope finished the same copy first: use theirs.
      if (!fs.existsSync(target)) throw error;
    }
  } finally {
    fs.rmSync(temp, { recursive: true, force: true });
  }
}

/** Copies interrupted more than an hour ago (a killed pgscope) would stay forever. */
function removeAbandonedCopies(cacheRoot: string): void {
  for (const name of fs.readdirSync(cacheRoot)) {
    const entry = path.join(cacheRoot, name);
    if (name.startsWith('.incomplete-') && Date.now() - fs.lstatSync(entry).mtimeMs > 3_600_000) {
      fs.rmSync(entry, { recursive: true, force: true });
    }
  }
}

/** Folders 0755, files readable (and executable when the owner may execute), nothing writable but by root. */
function makeReadableByAll(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) makeReadableByAll(full);
    else if (entry.isFile()) {
      const mode = fs.statSync(full).mode & 0o777;
      fs.chmodSync(full, (mode | 0o444 | (mode & 0o100 ? 0o111 : 0)) & ~0o022);
    }
  }
}

/**
 * A folder that holds what the server runs or stores must be root's alone: anyone else able to
 * write there could swap the binaries or the data folder for a symlink.
 */
function ensureRootFolder(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const stat = fs.lstatSync(dir);
  if (!stat.isDirectory() || stat.uid !== process.getuid?.() || (stat.mode & 0o022) !== 0) {
    throw new Error(`${dir} must be a folder owned by root that nobody else may write to; fix or remove it.`);
  }
  // A restrictive umask (077) would hide it from the OS user.
  if ((stat.mode & 0o055) !== 0o055) fs.chmodSync(dir, 0o755);
}

export interface PlacedData {
  dir: string;
  /** The folder the OS user could not reach, when `dir` replaces it. */
  movedFrom?: string;
}

/**
 * The folder for the data directory: `dir`, owned by `runAs` when pgscope runs as root. When the
 * OS user cannot reach it and it is the default (`movable`), a folder under `dataRoot` named after
 * the project instead, reused by every later start; a folder the user chose fails instead.
 */
export function placeDataDir(
  dir: string,
  runAs: OsUser | undefined,
  movable: boolean,
  dataRoot: string,
  log: (line: string) => void,
): PlacedData {
  const existed = fs.existsSync(dir);
  fs.mkdirSync(dir, { recursive: true });
  if (!runAs) return { dir };
  fs.chownSync(dir, runAs.uid, runAs.gid);
  if (canUseFolder(runAs, dir)) return { dir };
  // Leave no empty folder behind where PostgreSQL cannot go.
  if (!existed) fs.rmSync(dir, { recursive: true, force: true });
  if (!movable) throw unreachableFolder(dir, runAs);
  ensureRootFolder(dataRoot);
  const moved = path.join(dataRoot, dataFolderName(dir));
  fs.mkdirSync(moved, { recursive: true });
  fs.chownSync(moved, runAs.uid, runAs.gid);
  fs.chmodSync(moved, 0o700);
  assertReachable(moved, runAs);
  log(`The data goes to ${moved}: the OS user ${runAs.name} cannot reach ${dir}.`);
  return { dir: moved, movedFrom: dir };
}

/** "<project folder name>-<hash of the full path>": readable in a listing, distinct for two clones of one project. */
export function dataFolderName(dir: string): string {
  const project =
    path
      .basename(path.dirname(dir))
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .replace(/^\.+/, '') || 'pgscope';
  return `${project}-${createHash('sha256').update(dir).digest('hex').slice(0, 8)}`;
}

/** Sentences for the start banner: where things went and why. */
export function placementNotes(placed: { runAs?: string; binaries: PlacedBinaries; data: PlacedData }): string[] {
  const notes: string[] = [];
  if (placed.data.movedFrom) {
    notes.push(`data in ${placed.data.dir}, because ${placed.data.movedFrom} cannot be reached by the OS user ${placed.runAs}`);
  }
  if (placed.binaries.copiedFrom) {
    notes.push(
      `binaries copied to ${placed.binaries.binDir}, because ${placed.binaries.copiedFrom} cannot be reached by the OS user ${placed.runAs}`,
    );
  }
  return notes;
}
