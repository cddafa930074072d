// Every type file, imported for its side effect of registering on the builder.
import './scalars.js';
import './root.js';
import './live.js';
import './target.js';
import './capabilities.js';
import './poolStatus.js';
import './slowQuery.js';
import './queryHistory.js';
import './table.js';
import './indexUsage.js';
import './indexFinding.js';
import './partition.js';
import './cache.js';
import './activity.js';
import './indexBuild.js';
import './settings.js';
import './explain.js';
import './changeLog.js';
import './maintenance.js';
import './indexChanges.js';
import './partitionChanges.js';
import './recommendationChanges.js';
import './indexRecommendation.js';
import { GraphQLSchema, specifiedDirectives } from 'graphql';
import { builder } from './builder.js';
import { withNullableQueryFields } from './root.js';
import { targetDirective } from './target.js';

// Pothos declares no directives of its own: @target is added to the built schema.
const built = builder.toSchema();
export const schema = withNullableQueryFields(
  new GraphQLSchema({ ...built.toConfig(), directives: [...specifiedDirectives, targetDirective] }),
);
