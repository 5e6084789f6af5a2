/**
 * The built-in operator table: the one place it is built. The engine never
 * imports a concrete operator; whoever starts it injects this list.
 */
import type { OperatorDefinition } from '../engine/api.js';
import { exclude } from './filter/exclude.js';
import { match } from './filter/match.js';
import { range } from './filter/range.js';
import { column } from './score/column.js';
import { modelScore } from './score/model-score.js';
import { httpSource } from './source/http.js';
import { lookup } from './source/lookup.js';
import { redisSource } from './source/redis.js';
import { staticSource } from './source/static.js';
import { dedupe } from './transform/dedupe.js';
import { diverseSample } from './transform/diverse-sample.js';
import { hydrate } from './transform/hydrate.js';
import { limit } from './transform/limit.js';
import { offset } from './transform/offset.js';
import { pin } from './transform/pin.js';
import { sample } from './transform/sample.js';
import { sort } from './transform/sort.js';

export const builtinOperators: readonly OperatorDefinition[] = Object.freeze([
  staticSource,
  lookup,
  httpSource,
  redisSource,
  match,
  range,
  exclude,
  column,
  modelScore,
  hydrate,
  sort,
  limit,
  offset,
  pin,
  dedupe,
  diverseSample,
  sample,
]);
