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

/** Integer and number text as JSON writes them: no `0x7`, `007`, `+1`, ` 7` or `1e2` for an integer. */
const INTEGER_TEXT = /^-?(?:0|[1-9][0-9]*)$/;
const NUMBER_TEXT = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const DECIMAL_LIKE = /^\s*[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\s*$/;

/**
 * The item as the item id column holds it: an integer column takes integers (numbers, or their
 * digits as text) in its range, a float column finite numbers (or their text), a string column
 * text (a number is read as its text). Other spellings are refused rather than read as another item: Number() reads "0x7" and
 * "1e2" as 7 and 100, and a number on text ids cannot tell "00123" from "123". Throws
 * INPUT_INVALID at /item, saying how to write the id.
 */
export function checkWhyItem(p: CompiledPipeline, cat: ItemsCatalog | undefined, item: WhyItemId): WhyItemId {
  if (!cat) return item;
  const col = cat.dataset.column(cat.column);
  const where = `column '${cat.column}' of dataset '${cat.dataset.name}'`;
  // Text ids: a number is its digits as text ("123", never "00123"; unknownItem names ids holding the same number).
  if (!isNumeric(col)) return typeof item === 'string' ? item : String(item);
  const int = col instanceof Int32Array;
  const kind = int ? `an integer ${p.plan.itemType} (${where} is int32)` : `a number ${p.plan.itemType} (${where} is numeric)`;
  let n: number;
  if (typeof item === 'number') n = item;
  else if ((int ? INTEGER_TEXT : NUMBER_TEXT).test(item)) n = Number(item);
  else {
    const m = Number(item);
    const hint = DECIMAL_LIKE.test(item) && Number.isFinite(m) && (!int || Number.isInteger(m)) ? `: write it as ${String(m)}` : '';
    throw badItem(p, `must be ${kind}, not ${JSON.stringify(item)}${hint}`);
  }
  if (int ? !Number.isInteger(n) || n < -2147483648 || n > 2147483647 : !Number.isFinite(n)) throw badItem(p, `must be ${kind}, not ${JSON.stringify(item)}`);
  return n;
}

/** A not_included answer for an id the items dataset does not hold becomes unknown_item. */
export function unknownItem(cat: ItemsCatalog | undefined, item: WhyItemId, why: WhyAnswer | undefined): WhyAnswer | undefined {
  if (!cat || !why || why.verdict !== 'not_included') return why;
  if (cat.dataset.findRow(cat.column, item) >= 0) return why;
  const alike = sameNumber(cat, item);
  const hint = alike.length > 0 ? `; its ids are text, and ${alike.map((v) => JSON.stringify(v)).join(', ')} ${alike.length === 1 ? 'is' : 'are'} the same number written otherwise: ask for that id as written` : '';
  return Object.assign({}, why, { verdict: 'unknown_item' as const, reason: `no item ${item} in dataset ${cat.dataset.name} (${why.reason})${hint}` });
}

/** Up to 3 text ids of the catalog that read as the same number as `item` ("00123" for 123), when `item` is a number's text. */
function sameNumber(cat: ItemsCatalog, item: WhyItemId): string[] {
  const col = cat.dataset.column(cat.column);
  const n = Number(item);
  if (isNumeric(col) || typeof item !== 'string' || !NUMBER_TEXT.test(item) || !Number.isFinite(n)) return [];
  const out = new Set<string>();
  const values = col.kind === 'dict' ? col.dictionary : col.values;
  for (const v of values) {
    if (typeof v === 'string' && v !== item && v.trim() !== '' && Number(v) === n) out.add(v);
    if (out.size === 3) break;
  }
  return [...out];
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
