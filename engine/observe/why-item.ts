/**
 * Checks on the item a why request asks about, made against the pipeline's
 * items dataset before and after the run: an id of the wrong type for the
 * item id column is refused (422 naming /item), and an id the dataset does
 * not hold is told apart from a real item no include produced.
 */
import { isNumeric, type Dataset } from '../api.js';
import type { CompiledPipeline } from '../config/compile-pipeline.js';
import { AirmailError } from '../errors.js';
import type { WhyAnswer } from './types.js';

export type WhyItemId = string | number;

/** The items dataset of a pipeline and its item id column, when it has one loaded. */
export interface ItemsCatalog {
  readonly dataset: Dataset;
  readonly column: string;
}

export function itemsCatalog(p: CompiledPipeline, datasets: ReadonlyMap<string, Dataset>): ItemsCatalog | undefined {
  const name = p.plan.itemsDataset;
  const ds = name ? datasets.get(name) : undefined;
  if (!ds) return undefined;
  const column = ds.key ?? p.plan.itemType;
  return ds.has(column) ? { dataset: ds, column } : undefined;
}

function badItem(p: CompiledPipeline, message: string): AirmailError {
  return new AirmailError('INPUT_INVALID', `the item to explain ${message}`, { details: { errors: [{ path: '/item', message }] } });
}

/**
 * The item as the item id column holds it: an integer column takes integers
 * (numbers or integer strings) in its range, a float column finite numbers,
 * a string column anything. Throws INPUT_INVALID at /item otherwise.
 */
export function checkWhyItem(p: CompiledPipeline, cat: ItemsCatalog | undefined, item: WhyItemId): WhyItemId {
  if (!cat) return item;
  const col = cat.dataset.column(cat.column);
  if (!isNumeric(col)) return item;
  const n = typeof item === 'number' ? item : item.trim() === '' ? NaN : Number(item);
  if (col instanceof Int32Array) {
    if (!Number.isInteger(n) || n < -2147483648 || n > 2147483647) {
      throw badItem(p, `must be an integer ${p.plan.itemType} (column '${cat.column}' of dataset '${cat.dataset.name}' is int32), not ${JSON.stringify(item)}`);
    }
  } else if (!Number.isFinite(n)) {
    throw badItem(p, `must be a number ${p.plan.itemType} (column '${cat.column}' of dataset '${cat.dataset.name}' is numeric), not ${JSON.stringify(item)}`);
  }
  return n;
}

/** A not_included answer for an id the items dataset does not hold becomes unknown_item. */
export function unknownItem(cat: ItemsCatalog | undefined, item: WhyItemId, why: WhyAnswer | undefined): WhyAnswer | undefined {
  if (!cat || !why || why.verdict !== 'not_included') return why;
  if (cat.dataset.findRow(cat.column, item) >= 0) return why;
  return Object.assign({}, why, { verdict: 'unknown_item' as const, reason: `no item ${item} in dataset ${cat.dataset.name} (${why.reason})` });
}

/** A hint for a body that gives the pipeline's inputs at its top level instead of under "inputs". */
export function topLevelInputsHint(p: CompiledPipeline, body: Record<string, unknown>): string | undefined {
  if (body['inputs'] !== undefined) return undefined;
  const props = (p.inputSchema as { properties?: Record<string, unknown> }).properties ?? {};
  const found = Object.keys(body).filter((k) => Object.hasOwn(props, k));
  if (found.length === 0) return undefined;
  const shown = Object.fromEntries(found.map((k) => [k, body[k]]));
  return `the inputs go under "inputs": {"inputs": ${JSON.stringify(shown)}, "item": ...} (${found.map((k) => `"${k}"`).join(', ')} ${found.length === 1 ? 'was' : 'were'} given at the top level)`;
}
