// Prints the GraphQL schema, sorted, to schema.graphql (committed; test/schema/print.test.ts fails on drift).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printedSchema } from '../src/schema/print.js';

const target = fileURLToPath(new URL('../schema.graphql', import.meta.url));
fs.writeFileSync(target, printedSchema());
console.log(`Wrote ${target}`);
