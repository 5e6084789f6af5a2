/**
 * A context's own checks (its dataset, the column its key is matched against, the key itself),
 * which need no pipeline. A pipeline that references a context runs them when it compiles; the
 * loader runs them for every shared context (file-level `contexts:`) too, since one that no
 * pipeline uses yet was never checked: a misspelt dataset surfaced at its first use, maybe weeks
 * later. Both report the same sentences, so a problem is said once, where the context is defined.
 */
import type { ErrorCode } from '../errors.js';
import { unsafeIdProblem, type Table } from '../dataset.js';
import { findRefSites } from './refs.js';
import type { ContextConfig } from './schema.js';
import { missingDataset } from './validators.js';

export interface CheckedContext {
  readonly table: Table;
  /** The column of `table` the key is matched against. */
  readonly column: string;
  /** The request inputs the key is made of. */
  readonly inputs: readonly string[];
}

/** Reports each problem of context `name` (defined at `ptr`); undefined when it cannot be used at all. */
export function checkContext(
  name: string,
  c: ContextConfig,
  ptr: string,
  datasets: ReadonlyMap<string, Table>,
  failedDatasets: ReadonlyMap<string, string> | undefined,
  report: (code: ErrorCode, pointer: string, message: string) => void,
): CheckedContext | undefined {
  // As for an operator's `fixed` parameters (ref-roles.ts): the dataset is loaded before any request.
  const ref = findRefSites(c.dataset).sites[0];
  if (ref) {
    report('BAD_PARAMETER', `${ptr}/dataset`, `context '${name}': ${ref.text}: 'dataset' names a dataset, which is checked when the config loads, so a request input cannot choose it: write it in the config (to choose per request, write one context for each)`);
    return undefined;
  }
  const ds = datasets.get(c.dataset);
  if (!ds) {
    report('UNKNOWN_DATASET', `${ptr}/dataset`, `context '${name}' names dataset '${c.dataset}'${missingDataset(c.dataset, datasets.keys(), failedDatasets)}`);
    return undefined;
  }
  const column = c.column ?? ds.key;
  if (!column) {
    report('CONFIG_INVALID', ptr, `context '${name}': dataset '${c.dataset}' declares no key, so give the context a 'column:' to match the key against`);
    return undefined;
  }
  if (!ds.has(column)) {
    report('UNKNOWN_COLUMN', `${ptr}/column`, `context '${name}': dataset '${c.dataset}' has no column '${column}'`);
    return undefined;
  }
  // The key column was checked when the dataset loaded; another one is checked here, as a key.
  const unsafe = column !== ds.key ? unsafeIdProblem(ds, column, `the key of context '${name}'`) : undefined;
  if (unsafe) report('DATASET_LOAD_FAILED', `${ptr}/column`, unsafe);
  const { sites, malformed } = findRefSites(c.key);
  for (const m of malformed) report('UNKNOWN_REFERENCE', `${ptr}/key`, `'${m.text}' is not a valid reference (use $input or $context.column)`);
  const inputs: string[] = [];
  for (const s of sites) {
    if (s.ref.kind === 'input' && s.ref.name === name) {
      report('UNKNOWN_REFERENCE', `${ptr}/key`, `context '${name}' is keyed by the request input of its own name, so ${s.text} and ${s.text}.<column> would read different things: name the context after what its row is (e.g. 'client' for $client_id)`);
    } else if (s.ref.kind === 'input') inputs.push(s.ref.name);
    else report('UNKNOWN_REFERENCE', `${ptr}/key`, `a context key must be a request input ($name), not ${s.text}`);
  }
  return { table: ds, column, inputs };
}
