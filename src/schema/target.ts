// Several databases behind one pgscope (PGSCOPE_TARGETS): the @target directive that picks one
// for an operation (src/http/targets.ts binds it), and the targets root field that lists them.
import { DirectiveLocation, GraphQLDirective, GraphQLNonNull, GraphQLString } from 'graphql';
import { DEFAULT_TARGET } from '../config.js';
import { builder } from './builder.js';

export const TARGET_DIRECTIVE = 'target';

export const targetDirective = new GraphQLDirective({
  name: TARGET_DIRECTIVE,
  description:
    `The database this operation reads or changes, by the name PGSCOPE_TARGETS gives it ("${DEFAULT_TARGET}": DATABASE_URL's, or the ` +
    'embedded demo). Without it, the X-Pgscope-Target header chooses, else the default. NOT_FOUND for a name pgscope does not serve.',
  locations: [DirectiveLocation.QUERY, DirectiveLocation.MUTATION, DirectiveLocation.SUBSCRIPTION],
  args: { name: { type: new GraphQLNonNull(GraphQLString), description: 'The target name, e.g. "billing".' } },
});

interface TargetRow {
  name: string;
  selected: boolean;
}

const Target = builder.objectRef<TargetRow>('Target').implement({
  description: 'A database this pgscope serves, with its own pool, change log and history.',
  fields: (t) => ({
    name: t.exposeString('name', { description: `Its name in PGSCOPE_TARGETS; "${DEFAULT_TARGET}" for DATABASE_URL's (or the demo).` }),
    isDefault: t.boolean({
      description: 'Operations that name no target go to this one.',
      resolve: (target) => target.name === DEFAULT_TARGET,
    }),
    selected: t.exposeBoolean('selected', { description: 'This operation runs against it.' }),
  }),
});

builder.queryField('targets', (t) =>
  t.field({
    type: [Target],
    description:
      'The databases this pgscope serves, the default first; choose one per operation with @target(name:) or the X-Pgscope-Target header.',
    resolve: (_, __, ctx) => ctx.targetNames.map((name) => ({ name, selected: name === ctx.target })),
  }),
);
