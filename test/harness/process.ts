// Runs `src/index.ts` as a real process (what `npm start` runs), for start-up and shutdown tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** tsx's loader by its location, so that a process started in another folder (`cwd`) finds it too. */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface ServerProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the output once `text` appears; rejects if the process exits first. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startServerProcess(env: Record<string, string>, options: { cwd?: string } = {}): ServerProcess {
  // node --import tsx runs the sources in this very process, so signals reach it directly.
  const child = spawn(process.execPath, ['--import', TSX, path.join(ROOT, 'src/index.ts')], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => output,
    exited,
    waitFor(text, timeoutMs = 60_000) {
      const found = () => (typeof text === 'string' ? output.includes(text) : text.test(output));
      return new Promise((resolve, reject) => {
        const timer = setInterval(() => {
          if (found()) {
            clearInterval(timer);
            resolve(output);
          } else if (child.exitCode !== null || Date.now() - started > timeoutMs) {
            clearInterval(timer);
            reject(new Error(`Did not see ${String(text)}; output so far:\n${output}`));
          }
        }, 50);
        const started = Date.now();
      });
    },
  };
}
