/**
 * Which dataset a pipeline's items are hydrated from: `items:`, or the one dataset keyed by the item
 * type. Reports a misspelt `items:` or `item_type` once, where it is written.
 */
import type { PipelineConfig } from './schema.js';
import type { CompileScope, Report } from './compile-pipeline.js';
import { closest, didYouMean, missingDataset } from './validators.js';

const AFTER_IT_LOADS = "; the pipeline's steps are checked once it loads";

export /** The items dataset: `items:`, or the one dataset keyed by the item type; `note` says why there is none when that is not obvious. */
function resolveItemsDataset(cfg: PipelineConfig, base: string, scope: CompileScope, report: Report): { name: string | undefined; note?: string; fatal?: true } {
  if (cfg.items !== undefined) {
    const ds = scope.datasets.get(cfg.items);
    if (!ds) {
      // One that failed to load is the pipeline's only problem until it loads: its steps would each say it has no items dataset.
      const failed = scope.failedDatasets?.has(cfg.items) === true;
      report('UNKNOWN_DATASET', `${base}/items`, `items names dataset '${cfg.items}'${missingDataset(cfg.items, scope.datasets.keys(), scope.failedDatasets)}${failed ? AFTER_IT_LOADS : ''}`);
      return failed ? { name: undefined, fatal: true } : { name: undefined, note: `the items dataset '${cfg.items}' is not defined` };
    }
    if (!ds.has(cfg.item_type)) report('UNKNOWN_COLUMN', `${base}/items`, `items dataset '${cfg.items}' has no column '${cfg.item_type}' (the item type)`);
    return { name: cfg.items };
  }
  const keyed = [...scope.datasets.values()].filter((d) => d.key === cfg.item_type).map((d) => d.name).sort();
  if (keyed.length === 1) return { name: keyed[0]! };
  const failed = [...(scope.failedKeys ?? [])].filter(([, key]) => key === cfg.item_type).map(([n]) => `'${n}'`).sort();
  // Not an error of its own (a pipeline that hydrates nothing still serves), but what a step that needs it is told.
  if (keyed.length === 0 && failed.length > 0) return { name: undefined, note: `dataset ${failed.join(' or ')}, keyed by '${cfg.item_type}', would be its items dataset but failed to load: see its problem where it is defined` };
  if (keyed.length === 0) {
    // A misspelt item type (no dataset has such a column, one is keyed by a name near it) would
    // otherwise be reported at every step that reads ids, and `return:` suggest the typo back.
    const keys = [...scope.datasets.values()].flatMap((d) => (d.key !== undefined ? [d.key] : []));
    const near = [...scope.datasets.values()].some((d) => d.has(cfg.item_type)) ? undefined : closest(cfg.item_type, keys);
    if (near === undefined) return { name: undefined };
    const owners = [...scope.datasets.values()].filter((d) => d.key === near).map((d) => `'${d.name}'`).sort();
    report('UNKNOWN_COLUMN', `${base}/item_type`, `item_type '${cfg.item_type}' is a column of no dataset (did you mean '${near}', the key of dataset ${owners.join(' and ')}?); the pipeline's other steps are checked once it is fixed`);
    return { name: undefined, fatal: true };
  }
  return { name: undefined, note: `the items dataset is ambiguous: datasets ${keyed.map((k) => `'${k}'`).join(' and ')} are ${keyed.length === 2 ? 'both' : 'all'} keyed by '${cfg.item_type}'; pick one with 'items: ${keyed[0]}'` };
}
