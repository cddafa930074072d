// The first `npm start` / `npm test` on a fresh machine: containers and fresh servers run pgscope as
// root from a private folder (a clone under /root, a 0700 directory). PostgreSQL then runs as the
// OS user postgres, who can reach neither the binaries in node_modules nor ./.pgscope there; pgscope
// copies the binaries to a cache and moves the data, and says so. An ordinary user's private folder
// is their own: PostgreSQL runs as them and everything stays in place.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryOnce } from '../../src/db/pool.js';
import { packagedBinDir } from '../../src/embedded/binaries.js';
import { canRunBinaries, canUseFolder, ensureOsUser, type OsUser } from '../../src/embedded/osUser.js';
import { cacheName, dataFolderName, DEFAULT_ROOTS, placeDataDir, type PlacementRoots } from '../../src/embedded/placement.js';
import { startEmbeddedPostgres } from '../../src/embedded/server.js';
import { startServerProcess } from '../harness/process.js';

const runsAsRoot = process.getuid?.() === 0;
/** The OS user PostgreSQL runs as: postgres under root, else this process's own user. */
const runAs: OsUser | undefined = runsAsRoot ? ensureOsUser('postgres') : undefined;

let work: string;
let roots: PlacementRoots;
/** A 0700 folder holding a copy of the packaged binaries, like a clone with its node_modules. */
let project: string;
let projectBinDir: string;

beforeAll(async () => {
  work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'pgscope-firstrun-')));
  fs.chmodSync(work, 0o755);
  roots = { binaries: path.join(work, 'cache'), data: path.join(work, 'lib') };
  project = path.join(work, 'project');
  fs.mkdirSync(project);
  fs.chmodSync(project, 0o700);
  // The packaged binaries, whatever PGSCOPE_TEST_PG_BINDIR says: Debian's find their share folder
  // outside their install folder, so a copy of it could not run anyway.
  const packaged = path.dirname(await packagedBinDir());
  fs.cpSync(packaged, path.join(project, 'native'), { recursive: true, verbatimSymlinks: true });
  projectBinDir = path.join(project, 'native', 'bin');
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describe('what the OS user of the server can reach', () => {
  // Mode 000 keeps out both postgres (when we are root) and an ordinary owner.
  it('tells a closed folder from an open one', () => {
    const closed = path.join(work, 'closed');
    const open = path.join(work, 'open');
    fs.mkdirSync(path.join(closed, 'inner'), { recursive: true });
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    fs.chmodSync(closed, 0o000);
    try {
      expect(canUseFolder(runAs, path.join(closed, 'inner'))).toBe(false);
      expect(canUseFolder(runAs, open)).toBe(true);
    } finally {
      fs.chmodSync(closed, 0o755);
    }
  });

  it('tells binaries it cannot run from binaries it can', () => {
    try {
      fs.chmodSync(project, 0o755);
      expect(canRunBinaries(runAs, projectBinDir)).toBe(true);
      fs.chmodSync(project, 0o000);
      expect(canRunBinaries(runAs, projectBinDir)).toBe(false);
    } finally {
      fs.chmodSync(project, 0o700);
    }
  });

  it('names a moved data folder after the project, distinct for two clones', () => {
    expect(dataFolderName('/root/pgs-private/.pgscope')).toBe('pgs-private-b29de6a9');
    expect(dataFolderName('/srv/pgs-private/.pgscope')).toMatch(/^pgs-private-[0-9a-f]{8}$/);
    expect(dataFolderName('/srv/pgs-private/.pgscope')).not.toBe(dataFolderName('/root/pgs-private/.pgscope'));
    expect(dataFolderName('/.pgscope')).toMatch(/^pgscope-[0-9a-f]{8}$/);
  });

  it('fails with one clear line when the folder the user chose cannot be reached', () => {
    const chosen = path.join(project, 'chosen');
    const place = () => placeDataDir(chosen, runAs, false, roots.data, () => undefined);
    if (runsAsRoot) {
      expect(place).toThrow(
        `PostgreSQL runs as the OS user "postgres" (it refuses root), and that user cannot reach ${chosen}. ` +
          'Set PGSCOPE_EMBEDDED_DIR to a folder it can reach, or leave it unset to let pgscope choose one.',
      );
      expect(fs.existsSync(chosen)).toBe(false);
    } else {
      expect(place()).toEqual({ dir: chosen });
    }
  });
});

describe('an embedded server started from a private folder', () => {
  const start = (log: string[]) =>
    startEmbeddedPostgres({
      binDir: projectBinDir,
      dir: path.join(project, '.pgscope'),
      movableDir: true,
      placementRoots: roots,
      port: 0,
      throwaway: true,
      log: (line) => log.push(line),
    });

  it('runs, and says where its binaries and data went', async () => {
    const log: string[] = [];
    const server = await start(log);
    try {
      const [row] = await queryOnce<{ ok: number }>(server.url(), 'SELECT 1 AS ok');
      expect(row).toEqual({ ok: 1 });
      expect(server.created).toBe(true);
      if (runsAsRoot) {
        const copy = path.join(roots.binaries, cacheName(projectBinDir), 'bin');
        const moved = path.join(roots.data, dataFolderName(path.join(project, '.pgscope')));
        expect(server.binDir).toBe(copy);
        expect(server.dataDir).toBe(path.join(moved, `pg${server.majorVersion}`));
        expect(server.placementNotes).toEqual([
          `data in ${moved}, because ${project}/.pgscope cannot be reached by the OS user postgres`,
          `binaries copied to ${copy}, because ${projectBinDir} cannot be reached by the OS user postgres`,
        ]);
        expect(log.filter((line) => line.startsWith('Copying the PostgreSQL binaries'))).toHaveLength(1);
        expect(fs.existsSync(path.join(project, '.pgscope'))).toBe(false);
      } else {
        expect(server.binDir).toBe(projectBinDir);
        expect(server.dataDir).toBe(path.join(project, '.pgscope', `pg${server.majorVersion}`));
        expect(server.placementNotes).toEqual([]);
      }
    } finally {
      await server.stop();
    }
  });

  it('reuses the copy and the data on the next start', async () => {
    const log: string[] = [];
    const server = await start(log);
    try {
      expect(server.created).toBe(false);
      expect(log.filter((line) => line.startsWith('Copying'))).toEqual([]);
      expect(server.placementNotes).toHaveLength(runsAsRoot ? 2 : 0);
    } finally {
      await server.stop();
    }
  });
});

describe('npm start in a private folder, with no setting', () => {
  it('serves the demo with its data where PostgreSQL can reach it, and the banner says where', async () => {
    const clone = path.join(work, 'clone');
    fs.mkdirSync(clone);
    fs.chmodSync(clone, 0o700);
    const defaultDir = path.join(clone, '.pgscope');
    // As root the data goes to the real /var/lib/pgscope: removed below.
    const moved = path.join(DEFAULT_ROOTS.data, dataFolderName(defaultDir));
    const server = startServerProcess(
      { PORT: '0', PGSCOPE_EMBEDDED_PORT: '0', PGSCOPE_DEMO_SCALE: '0.01', PGSCOPE_DEMO_WORKLOAD_RATE: '0' },
      { cwd: clone },
    );
    try {
      const output = await server.waitFor('Press Ctrl-C to stop.', 120_000);
      if (runsAsRoot) {
        expect(output).toContain(`, data in ${moved}/pg18)\n`);
        expect(output).toContain(`  Note:          data in ${moved}, because ${defaultDir} cannot be reached by the OS user postgres\n`);
        expect(fs.existsSync(defaultDir)).toBe(false);
      } else {
        expect(output).toContain(`, data in ${defaultDir}/pg18)\n`);
        expect(output).not.toContain('Note:');
      }
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      if (runsAsRoot) fs.rmSync(moved, { recursive: true, force: true });
    }
  });
});
