/**
 * The contract every built-in operator's test runs (like Hono's shared router
 * suite): parameters are checked by the same ajv settings the engine uses, the
 * doc-comment YAML example must parse and validate, runs never touch their
 * input, outputs have the shapes the executor relies on, declared reads are
 * sufficient, and at least one error path is exercised with its code.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { CheckEnv, Column, ErrorCode, OperatorDefinition, RowSet, RunContext } from '../engine/api.js';
import { AirmailError, columnLength, isNumeric } from '../engine/api.js';
import { WorkFrame, testContext } from '../engine/testing.js';

type Params = Record<string, unknown>;

export interface ContractErrorCase {
  readonly params: Params;
  readonly code: ErrorCode;
  readonly rowSet?: RowSet;
  readonly ctx?: RunContext;
}

export interface ContractProblemCase {
  readonly params: Params;
  readonly code: ErrorCode;
  /** JSON pointer the problem must point at. */
  readonly path: string;
}

export interface ContractCases {
  /** The operator's source file (its doc comment holds the YAML example); pass `import.meta.url` of the test beside it. */
  readonly file: string | URL;
  /** Parameters the schema accepts; each is also run (on `rowSet` unless a source). */
  readonly valid: readonly Params[];
  /** Parameters the schema must reject. */
  readonly invalid: readonly unknown[];
  readonly rowSet?: RowSet;
  readonly ctx?: RunContext;
  readonly env?: CheckEnv;
  /** Runs that must fail with a coded AirmailError. */
  readonly errors?: readonly ContractErrorCase[];
  /** Parameters that pass the schema but that `check` must report. */
  readonly problems?: readonly ContractProblemCase[];
}

/** The engine's ajv settings (engine/config/validators.ts): every error, defaults filled, no strict mode. */
export function newParamAjv(): Ajv {
  return new Ajv({ allErrors: true, strict: false, useDefaults: true });
}

/** The YAML example of an operator's leading doc comment, as parsed steps. */
export function docExample(source: string): unknown {
  const comment = /^\s*\/\*\*([\s\S]*?)\*\//.exec(source);
  if (!comment) throw new Error('the file does not start with a /** doc comment */');
  const text = comment[1]!
    .split('\n')
    .map((l) => l.replace(/^\s*\* ?/, ''))
    .join('\n');
  const fence = /```ya?ml\n([\s\S]*?)```/.exec(text);
  if (!fence) throw new Error('the doc comment holds no ```yaml example');
  return parseYaml(fence[1]!);
}

function valueAtPointer(root: unknown, ptr: string): unknown {
  let v: unknown = root;
  for (const seg of ptr.split('/').slice(1)) {
    const key = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

const compiled = new WeakMap<OperatorDefinition, ValidateFunction>();
let sharedAjv: Ajv | undefined;

/** The operator's compiled parameter validator (compiled once per definition). */
export function paramValidator(def: OperatorDefinition): ValidateFunction {
  let fn = compiled.get(def);
  if (!fn) {
    sharedAjv ??= newParamAjv();
    fn = sharedAjv.compile(def.parameters);
    compiled.set(def, fn);
  }
  return fn;
}

/** Validate like the engine: errors on (or under) a `$reference` value are the engine's business, not the schema's. */
export function schemaErrors(def: OperatorDefinition, params: unknown): ErrorObject[] {
  const validate = paramValidator(def);
  if (validate(params)) return [];
  return (validate.errors ?? []).filter((e) => {
    const segs = e.instancePath.split('/');
    for (let i = 1; i <= segs.length; i++) {
      const v = valueAtPointer(params, segs.slice(0, i).join('/'));
      if (typeof v === 'string' && v.startsWith('$')) return false;
    }
    return true;
  });
}

function snapshotColumn(c: Column): unknown {
  if (isNumeric(c)) return c.slice();
  return c.kind === 'dict' ? { kind: 'dict', codes: c.codes.slice(), dictionary: [...c.dictionary] } : { kind: 'string', values: [...c.values] };
}

function snapshot(input: RowSet): unknown {
  const cols: Record<string, unknown> = {};
  for (const name of input.frame.columnNames) cols[name] = snapshotColumn(input.frame.column(name));
  return { length: input.frame.length, key: input.frame.key, cols, rows: input.rows.slice() };
}

/** A row set over only the key column and `keep` (same rows), to prove the declared reads suffice. */
function restrict(input: RowSet, keep: readonly string[]): RowSet {
  const cols: Record<string, Column> = {};
  for (const name of [input.frame.key, ...keep]) if (input.frame.has(name)) cols[name] = input.frame.column(name);
  return { frame: new WorkFrame(input.frame.key, input.frame.length, cols), rows: input.rows };
}

function envFrom(ctx: RunContext, file: string): CheckEnv {
  return {
    itemType: ctx.itemType,
    itemsDataset: ctx.itemsDataset,
    datasetColumns(name) {
      try {
        return ctx.dataset(name).columnNames;
      } catch {
        return undefined;
      }
    },
    resolvePath: (p) => resolve(dirname(file), p),
  };
}

async function runOnce(def: OperatorDefinition, params: Params, input: RowSet | undefined, ctx: RunContext): Promise<unknown> {
  if (def.kind === 'source') return def.run(params, ctx);
  if (!input) throw new Error(`${def.name}: the contract needs a rowSet to run a ${def.kind}`);
  return def.run(params, input, ctx);
}

async function codeOf(p: () => Promise<unknown>): Promise<string> {
  try {
    await p();
  } catch (err) {
    expect(err).toBeInstanceOf(AirmailError);
    return (err as AirmailError).code;
  }
  return '(no error)';
}

function expectUniqueInRange(rows: Int32Array, frameLength: number): void {
  const seen = new Set<number>();
  for (const r of rows) {
    expect(r).toBeGreaterThanOrEqual(0);
    expect(r).toBeLessThan(frameLength);
    seen.add(r);
  }
  expect(seen.size).toBe(rows.length);
}

/** Registers the contract tests for one operator. */
export function runContract(def: OperatorDefinition, cases: ContractCases): void {
  const file = cases.file instanceof URL ? fileURLToPath(cases.file) : cases.file.startsWith('file:') ? fileURLToPath(cases.file) : cases.file;
  const source = file.replace(/\.test\.ts$/, '.ts');
  const ctx = cases.ctx ?? testContext();
  const env = cases.env ?? envFrom(ctx, source);
  /** Parameters as the engine hands them to `run`: defaults filled, then normalized. */
  const prepare = (p: Params): Params => {
    const copy = structuredClone(p);
    expect(schemaErrors(def, copy)).toEqual([]);
    return def.normalize ? (def.normalize(copy, env) as Params) : copy;
  };

  describe(`${def.name} (${def.kind}) contract`, () => {
    it('is a complete definition', () => {
      expect(def.name).toMatch(/^[A-Z][A-Za-z0-9]*$/);
      expect(def.summary.length).toBeGreaterThan(10);
      expect(def.parameters['type']).toBe('object');
      expect(Object.isFrozen(def)).toBe(true);
      expect(cases.valid.length).toBeGreaterThan(0);
      expect(cases.invalid.length).toBeGreaterThan(0);
    });

    it('rejects bad parameters with the schema', () => {
      for (const p of cases.invalid) {
        const validate = paramValidator(def);
        expect(validate(structuredClone(p)), `should reject ${JSON.stringify(p)}`).toBe(false);
      }
    });

    it('accepts good parameters, and check() finds nothing wrong with them', () => {
      for (const p of cases.valid) {
        const params = prepare(p);
        expect(def.check?.(params, env) ?? []).toEqual([]);
      }
    });

    it('has a doc-comment YAML example that parses and validates', () => {
      const doc = docExample(readFileSync(source, 'utf8'));
      const steps = (Array.isArray(doc) ? doc : [doc]) as { name?: unknown; parameters?: unknown }[];
      expect(steps.length).toBeGreaterThan(0);
      for (const step of steps) {
        expect(typeof step.name).toBe('string');
        expect(step.parameters, 'the example should show parameters').toBeTypeOf('object');
        expect(schemaErrors(def, structuredClone(step.parameters))).toEqual([]);
      }
    });

    it('runs every valid case without touching its input, with well-formed output', async () => {
      for (const p of cases.valid) {
        const params = prepare(p);
        const input = cases.rowSet;
        const before = input ? snapshot(input) : undefined;
        const out = await runOnce(def, params, input, ctx);
        if (input) expect(snapshot(input)).toEqual(before);
        switch (def.kind) {
          case 'source': {
            const res = out as { ids: ArrayLike<unknown>; columns?: Record<string, Column> };
            expect(res.ids.length).toBeGreaterThanOrEqual(0);
            for (const c of Object.values(res.columns ?? {})) expect(columnLength(c)).toBe(res.ids.length);
            break;
          }
          case 'filter': {
            const kept = out as Int32Array;
            expect(kept).toBeInstanceOf(Int32Array);
            expectUniqueInRange(kept, input!.frame.length);
            // A subsequence of the input rows, in their order.
            let at = 0;
            for (const r of kept) {
              while (at < input!.rows.length && input!.rows[at] !== r) at++;
              expect(at, `row ${r} is not in input order`).toBeLessThan(input!.rows.length);
              at++;
            }
            break;
          }
          case 'score': {
            const scores = out as Float64Array | Float32Array;
            expect(scores instanceof Float64Array || scores instanceof Float32Array).toBe(true);
            expect(scores.length).toBe(input!.rows.length);
            break;
          }
          case 'transform': {
            const res = out as { rows?: Int32Array; columns?: Record<string, Column> };
            if (res.rows) {
              expect(res.rows).toBeInstanceOf(Int32Array);
              expectUniqueInRange(res.rows, input!.frame.length);
            }
            for (const c of Object.values(res.columns ?? {})) expect(columnLength(c)).toBe(input!.rows.length);
            for (const w of def.writes?.(params, env) ?? []) expect(Object.keys(res.columns ?? {})).toContain(w);
            break;
          }
        }
      }
    });

    if (def.kind !== 'source') {
      it('needs no frame columns beyond its declared reads', async () => {
        const input = cases.rowSet!;
        for (const p of cases.valid) {
          const params = prepare(p);
          const reads = (def.reads?.(params, env) ?? []).filter((c) => !c.startsWith('$'));
          for (const c of reads) expect(input.frame.has(c), `declared read '${c}' should be in the test frame`).toBe(true);
          const full = await runOnce(def, params, input, ctx);
          const narrow = await runOnce(def, params, restrict(input, reads), ctx);
          expect(narrow).toEqual(full);
        }
      });
    }

    it('raises coded errors on its error paths', async () => {
      let exercised = 0;
      if (def.kind !== 'source' && cases.rowSet) {
        // A declared read that the frame lacks is UNKNOWN_COLUMN.
        for (const p of cases.valid) {
          const params = prepare(p);
          const reads = (def.reads?.(params, env) ?? []).filter((c) => !c.startsWith('$') && c !== cases.rowSet!.frame.key);
          if (reads.length === 0) continue;
          expect(await codeOf(() => runOnce(def, params, restrict(cases.rowSet!, []), ctx))).toBe('UNKNOWN_COLUMN');
          exercised++;
          break;
        }
      }
      for (const e of cases.errors ?? []) {
        const params = structuredClone(e.params);
        paramValidator(def)(params);
        expect(await codeOf(() => runOnce(def, params, e.rowSet ?? cases.rowSet, e.ctx ?? ctx)), JSON.stringify(e.params)).toBe(e.code);
        exercised++;
      }
      for (const pc of cases.problems ?? []) {
        const params = prepare(pc.params);
        const found = def.check?.(params, env) ?? [];
        expect(found.map((f) => ({ path: f.path, code: f.code }))).toContainEqual({ path: pc.path, code: pc.code });
        exercised++;
      }
      expect(exercised, 'give the contract at least one error or problem case').toBeGreaterThan(0);
    });
  });
}
