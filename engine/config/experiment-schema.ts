/**
 * The `experiments:` section of a config file (A/B tests between pipelines; see
 * compile-experiment.ts and engine/experiments.ts). Only the shape here: the sentences a data
 * scientist reads (a unit that is no `$input`, a weight that is not positive, an arm that is no
 * pipeline) come from the compiler, which knows the pipelines.
 *
 * ```yaml
 * experiments:
 * - name: home_feed
 *   unit: $client_id
 *   arms:
 *   - {pipeline: home_feed_v1, weight: 90}
 *   - {pipeline: home_feed_v2, weight: 10}
 * ```
 */
import type { JsonSchema } from '../api.js';

export interface ExperimentArmConfig {
  pipeline: string;
  weight: number;
}

export interface ExperimentConfig {
  name: string;
  description?: string;
  /** The request input whose value picks the arm: `$client_id`. */
  unit: string;
  /** Hashed with the unit's value instead of the name (default: the name). */
  salt?: string;
  arms: ExperimentArmConfig[];
  /** The arm that answers a request without the unit (default: none, a 422). */
  default?: string;
}

const NAME = '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$';

export const EXPERIMENTS_SCHEMA: JsonSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['name', 'unit', 'arms'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', pattern: NAME },
      description: { type: 'string' },
      unit: { type: 'string' },
      salt: { type: 'string', minLength: 1, maxLength: 256 },
      arms: {
        type: 'array',
        maxItems: 100,
        items: {
          type: 'object',
          required: ['pipeline', 'weight'],
          additionalProperties: false,
          properties: { pipeline: { type: 'string' }, weight: { type: 'number' } },
        },
      },
      default: { type: 'string' },
    },
  },
};
