#!/usr/bin/env node
// `npx pgscope ...` in a clone: runs the CLI's TypeScript sources through tsx, as `npm start` does.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../src/cli/main.ts');
await run(process.argv.slice(2));
