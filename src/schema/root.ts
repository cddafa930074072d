// The root types. Fields are added by the file of the type they return.
import { getNullableType, type GraphQLSchema } from 'graphql';
import { builder } from './builder.js';

builder.queryType({
  description: 'Read-only facts about the target PostgreSQL database. Reads never write.',
});

builder.mutationType({
  description:
    'Changes, on request only. Each needs the admin token (header "Authorization: Bearer <PGSCOPE_ADMIN_TOKEN>"), is safe by ' +
    'default (dry runs, CONCURRENTLY, lock timeouts), and every change to the database is recorded in the change log.',
});

builder.subscriptionType({
  description:
    'Live values for dashboards, over Server-Sent Events (POST or GET /graphql with "Accept: text/event-stream"): each field reads ' +
    "its value at once, then every intervalMs. A read that fails is that event's error and the next one reads again. A client " +
    '(its address and token) holds at most PGSCOPE_MAX_SUBSCRIPTIONS_PER_CLIENT streams open, the process PGSCOPE_MAX_SUBSCRIPTIONS.',
});

/** What every Query field's description ends with: the one case where it is null. */
export const NULL_WHEN_FAILED = 'Null only when it fails; errors[] then says why.';

/**
 * Makes every Query field nullable (nested fields keep DefaultFieldNullability false). A failing
 * non-null root field would null the whole response: a dashboard asking for six things gets the
 * five that worked, with the sixth in errors[]. Pothos has no per-type nullability default, and
 * `nullable: true` on each field is easy to forget on the next one. Each description says so, as a
 * typed client sees `| null` on each (test/schema/print.test.ts checks every nullable field says when).
 */
export function withNullableQueryFields(schema: GraphQLSchema): GraphQLSchema {
  for (const field of Object.values(schema.getQueryType()!.getFields())) {
    field.type = getNullableType(field.type);
    field.description = `${field.description} ${NULL_WHEN_FAILED}`;
  }
  return schema;
}
