/**
 * How big one envelope may be. Every tag is a posting every tag query may scan, and the index,
 * metrics and statistics are read whole by listings and resolves: an envelope with a million tags
 * slows every query of the registry, not only its own. A publish (or an added metric) over a limit
 * is refused before anything is stored, naming the limit, the maximum and what was sent.
 * Envelopes already stored are read as they are: the limits apply to what is written from now on.
 */
import { RegistryError, type RegistryErrorCode } from './errors.js';

export const ENVELOPE_LIMITS = {
  /** Index entries, `name`, `description`, `user` and `team` included. */
  tags: 64,
  /** Characters of a tag key (the name pattern allows no more). */
  tagKeyChars: 128,
  /** Characters of a tag value, `description` included. */
  tagValueChars: 4096,
  /** Metrics of one version, the ones added later included. */
  metrics: 256,
  /** Bytes of one version's metrics as JSON (curves included), the ones added later included. */
  metricsBytes: 1024 * 1024,
  /** Sample columns with statistics (one per feature). */
  features: 4096,
  /** Bytes of the sample statistics (`data`) as JSON. */
  dataBytes: 4 * 1024 * 1024,
} as const;

export type EnvelopeLimit = keyof typeof ENVELOPE_LIMITS;

function over(code: RegistryErrorCode, limit: EnvelopeLimit, sent: number, what: string, unit: string, advice = ''): never {
  const max = ENVELOPE_LIMITS[limit];
  throw new RegistryError(code, `nothing was published: ${what} ${sent} ${unit}, over the limit of ${max} (${limit})${advice}`, { details: { limit, max, sent } });
}

function checkTagCount(count: number): void {
  if (count > ENVELOPE_LIMITS.tags) over('ENVELOPE_INVALID', 'tags', count, 'the envelope index has', 'tags (name, description, user and team included)');
}

/** Tag count and key/value lengths of an index. */
export function checkTagLimits(index: Readonly<Record<string, unknown>>): void {
  const keys = Object.keys(index);
  checkTagCount(keys.length);
  for (const k of keys) {
    if (k.length > ENVELOPE_LIMITS.tagKeyChars) over('ENVELOPE_INVALID', 'tagKeyChars', k.length, `tag key ${JSON.stringify(`${k.slice(0, 32)}…`)} has`, 'characters');
    const v = index[k];
    if (typeof v === 'string' && v.length > ENVELOPE_LIMITS.tagValueChars) over('ENVELOPE_INVALID', 'tagValueChars', v.length, `tag '${k.slice(0, 128)}' has a value of`, 'characters');
  }
}

/** Count and JSON size of one version's metrics (`existing`: those it already has). */
export function checkMetricLimits(metrics: unknown, existing: Readonly<Record<string, unknown>> = {}): void {
  if (!metrics || typeof metrics !== 'object' || Array.isArray(metrics)) return;
  const count = Object.keys(metrics).length + Object.keys(existing).length;
  const already = Object.keys(existing).length ? ` (${Object.keys(existing).length} already there)` : '';
  if (count > ENVELOPE_LIMITS.metrics) over('METRIC_INVALID', 'metrics', count, 'the version would have', `metrics${already}`);
  const bytes = Buffer.byteLength(JSON.stringify({ ...existing, ...metrics }));
  if (bytes > ENVELOPE_LIMITS.metricsBytes) over('METRIC_INVALID', 'metricsBytes', bytes, 'the metrics as JSON take', `bytes${already}`, ': keep curves to a few hundred points');
}

/** Number of sample columns with statistics. */
export function checkFeatureCount(columns: number): void {
  if (columns > ENVELOPE_LIMITS.features) over('SAMPLE_INVALID', 'features', columns, 'the sample has', 'columns', ': send only the input columns');
}

/** Everything above on a whole envelope, and the statistics' size: the store's check before it writes. */
export function checkEnvelopeLimits(e: { readonly index: Readonly<Record<string, unknown>>; readonly metrics: unknown; readonly data: { readonly features: Readonly<Record<string, unknown>> } }): void {
  checkTagLimits(e.index);
  checkMetricLimits(e.metrics);
  checkFeatureCount(Object.keys(e.data.features).length);
  const bytes = Buffer.byteLength(JSON.stringify(e.data));
  if (bytes > ENVELOPE_LIMITS.dataBytes) over('SAMPLE_INVALID', 'dataBytes', bytes, 'the sample statistics as JSON take', 'bytes', ': send only the input columns');
}
