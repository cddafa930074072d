#!/usr/bin/env node
// `npx pgscope ...`: in a clone, the TypeScript sources through tsx (as `npm start` runs them), so
// that a dist/ built some time ago never answers for newer sources; where there are no sources
// (the container image), the built CLI in dist/.
import fs from 'node:fs';

let cli;
if (!fs.existsSync(new URL('../src/cli/main.ts', import.meta.url))) {
  cli = await import(new URL('../dist/cli/main.js', import.meta.url).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../src/cli/main.ts');
}
await cli.run(process.argv.slice(2));
