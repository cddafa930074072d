// npm run clean: removes what `npm start` keeps for this clone outside node_modules, the embedded
// demo's data (./.pgscope, or PGSCOPE_EMBEDDED_DIR) and, as root, what it put under /var/lib/pgscope
// (this clone's data) and /var/cache/pgscope (the copy of this clone's PostgreSQL binaries). It
// refuses while a server still runs on that data: stop pgscope first.
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config.js';
import { packagedBinDir } from '../src/embedded/binaries.js';
import { cacheName, dataFolderName, DEFAULT_ROOTS } from '../src/embedded/placement.js';

const config = loadConfig(process.env);
const dir = config.embedded.dir;
const candidates = [dir];
if (process.getuid?.() === 0) {
  if (!config.embedded.dirChosen) candidates.push(path.join(DEFAULT_ROOTS.data, dataFolderName(dir)));
  candidates.push(path.join(DEFAULT_ROOTS.binaries, cacheName(fs.realpathSync(await packagedBinDir()))));
}

const present = candidates.filter((folder) => fs.existsSync(folder));
const running = present.flatMap((folder) => runningServers(folder));
if (running.length > 0) {
  console.error(
    `pgscope clean: a PostgreSQL server still runs on ${running.join(', ')}: stop pgscope (Ctrl-C) first. Nothing was removed.`,
  );
  process.exit(1);
}
if (present.length === 0) console.log('pgscope clean: nothing to remove.');
for (const folder of present) {
  const bytes = sizeOf(folder);
  fs.rmSync(folder, { recursive: true, force: true });
  console.log(`pgscope clean: removed ${folder} (${(bytes / 1024 / 1024).toFixed(0)} MB).`);
}

/** Data directories under `folder` (pg13 ... pg18) whose postmaster.pid names a live process. */
function runningServers(folder: string): string[] {
  return fs.readdirSync(folder).flatMap((name) => {
    const lock = path.join(folder, name, 'postmaster.pid');
    if (!fs.existsSync(lock)) return [];
    const pid = Number(fs.readFileSync(lock, 'utf8').split('\n')[0]);
    try {
      process.kill(pid, 0);
      return [path.join(folder, name)];
    } catch {
      return [];
    }
  });
}

function sizeOf(folder: string): number {
  return fs.readdirSync(folder, { withFileTypes: true }).reduce((total, entry) => {
    const at = path.join(folder, entry.name);
    if (entry.isDirectory()) return total + sizeOf(at);
    return total + (entry.isFile() ? fs.statSync(at).size : 0);
  }, 0);
}
