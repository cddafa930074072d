// Writes the README's table of error codes from src/errors.ts (test/readme.test.ts fails on drift).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withErrorCodeTable } from '../src/errorTable.js';

const target = fileURLToPath(new URL('../README.md', import.meta.url));
fs.writeFileSync(target, withErrorCodeTable(fs.readFileSync(target, 'utf8')));
console.log(`Wrote the error codes into ${target}`);
