// Every type file, imported for its side effect of registering on the builder.
import './scalars.js';
import './root.js';
import './capabilities.js';
import './poolStatus.js';
import './slowQuery.js';
import { builder } from './builder.js';

export const schema = builder.toSchema();
