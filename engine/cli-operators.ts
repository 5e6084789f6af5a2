/**
 * `airmail operators [NAME] [--configs DIR]`: the operator catalogue of GET /operators as text. Without
 * NAME, a table of every installed operator (built-in and from the configs' operator_paths) and of
 * the configs' presets; with NAME, that operator's (or preset's) parameters.
 */
import { resolve } from 'node:path';
import type { OperatorDefinition } from './api.js';
import { parseFlags } from './cli-args.js';
import { Engine } from './engine.js';
import { catalogueEntry, operatorCatalogue, type OperatorInfo, type ParameterInfo, type PresetInfo } from './operator-catalogue.js';
import { logDiagnostics } from './server.js';

export const OPERATORS_USAGE = '  airmail operators [NAME] [--configs DIR] [--registry URL|DIR] [--json]';

export interface OperatorsCliOptions {
  readonly operators: readonly OperatorDefinition[];
  readonly operatorModules: readonly string[];
  readonly defaultConfigs: string;
}

/** Rows as aligned columns, two spaces apart (the last column unpadded). */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

const value = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
const oneOfText = (alts: readonly (readonly string[])[]): string => `one of ${alts.map((a) => a.join(' + ')).join(', ')} required`;
const paramList = (o: OperatorInfo): string =>
  (o.parameters.map((p) => `${p.name}${p.required ? '*' : ''}`).join(', ') || '-') + (o.required_one_of ? ` (${oneOfText(o.required_one_of)})` : '');

function parameterTable(ps: readonly ParameterInfo[]): string {
  if (ps.length === 0) return '  (no parameters)\n';
  const rows = ps.map((p) => [
    p.name, p.type, p.required ? 'required' : 'optional',
    p.default !== undefined ? `default ${value(p.default)}` : '',
    [p.enum ? `one of ${p.enum.map(value).join(', ')}` : '', p.description ?? ''].filter(Boolean).join('; '),
  ]);
  return table([['parameter', 'type', '', 'default', 'notes'], ...rows]).replace(/^(?=.)/gm, '  ');
}

function operatorText(o: OperatorInfo): string {
  return `${o.name} (${o.kind}, ${o.source}): ${o.summary}\n${parameterTable(o.parameters)}` +
    (o.required_one_of ? `  ${oneOfText(o.required_one_of)}\n` : '') +
    (o.additional_parameters ? '' : '  other parameters are refused\n') +
    (o.presets.length ? `  presets using it: ${o.presets.join(', ')}\n` : '');
}

function presetText(p: PresetInfo, op: OperatorInfo | null): string {
  return `${p.name}: preset of ${p.use}${p.file ? ` (${p.file})` : ''}${p.description ? `: ${p.description}` : ''}\n  parameters: ${value(p.parameters)}\n` +
    (op ? `\n${operatorText(op)}` : '');
}

export async function operatorsCmd(args: readonly string[], b: OperatorsCliOptions): Promise<number> {
  const { values, positionals } = parseFlags(args, { configs: { type: 'string' }, registry: { type: 'string' }, json: { type: 'boolean' } }, 1);
  const configs = resolve(values.configs ?? process.env['AIRMAIL_CONFIGS'] ?? b.defaultConfigs);
  const registry = values.registry ?? process.env['AIRMAIL_REGISTRY'];
  // Read-only: no watcher, no worker threads, no replication.
  const engine = new Engine({ configs, operators: b.operators, operatorModules: b.operatorModules, threads: 0, watch: false, replicate: false, ...(registry ? { registry, modelHub: { log: () => undefined } } : {}) });
  try {
    const rejected = await engine.start();
    // What a rejected file defines (its presets, its operator folders) is not in the catalogue: say why first.
    if (rejected.length > 0) {
      logDiagnostics(rejected);
      process.stderr.write(`airmail operators: ${rejected.length} problem(s) above; what the rejected files define is not listed\n`);
    }
    const cat = operatorCatalogue(engine.snapshot, engine.store.dir);
    const name = positionals[0];
    if (name !== undefined) {
      const entry = catalogueEntry(cat, name);
      process.stdout.write(values.json ? `${JSON.stringify(entry, null, 2)}\n` : 'preset' in entry ? presetText(entry.preset, entry.operator) : operatorText(entry.operator));
      return 0;
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify(cat, null, 2)}\n`);
      return 0;
    }
    process.stdout.write(table([['operator', 'kind', 'source', 'parameters (* required)'], ...cat.operators.map((o) => [o.name, o.kind, o.source, paramList(o)])]));
    if (cat.presets.length > 0) process.stdout.write(`\n${table([['preset', 'uses', 'file', 'parameters'], ...cat.presets.map((p) => [p.name, p.use, p.file ?? '-', value(p.parameters)])])}`);
    process.stdout.write(`\n'airmail operators NAME' shows one operator's parameters.\n`);
    return 0;
  } finally {
    await engine.close();
  }
}
