// The root types. Fields are added by the file of the type they return.
import { builder } from './builder.js';

builder.queryType({
  description: 'Read-only facts about the target PostgreSQL database. Reads never write.',
});

