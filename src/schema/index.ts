// Every type file, imported for its side effect of registering on the builder.
import './scalars.js';
import './root.js';
import './live.js';
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
import { builder } from './builder.js';
import { withNullableQueryFields } from './root.js';

export const schema = withNullableQueryFields(builder.toSchema());
