// The root types. Fields are added by the file of the type they return.
import { builder } from './builder.js';

builder.queryType({
  description: 'Read-only facts about the target PostgreSQL database. Reads never write.',
});

builder.mutationType({
  description:
    'Changes, on request only. Each needs the admin token (header "Authorization: Bearer <PGSCOPE_ADMIN_TOKEN>"), is safe by ' +
    'default (dry runs, CONCURRENTLY, lock timeouts), and every change to the database is recorded in the change log.',
});
