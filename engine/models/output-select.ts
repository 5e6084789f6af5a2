/**
 * Choosing the score of a model whose output has several values per row.
 *
 * The most common exported model is a classifier (skl2onnx with zipmap=False, onnxmltools for
 * XGBoost/LightGBM): `label` int64 [N], then `probabilities` float32 [N, 2], the positive class
 * in column 1. A selector names an output and, for a wide one, its column: `probabilities[1]`.
 * It is written at publish (`--outputs psale=probabilities[1]`, recorded in the envelope's output
 * column as `{name: psale, output: probabilities, column: 1}`) or, for a model file, as ModelScore's
 * `output: probabilities[1]`. Checked when the model loads; per request only the column is copied.
 */

/** Which model output a score column is read from, and which column of it when it is [N, k]. */
export interface OutputSelect {
  readonly output: string;
  readonly column?: number;
}

/** What is known of a model output before running it. */
export interface OutputInfo {
  readonly name: string;
  /** float32, int64, ... (undefined: unknown or not a tensor). */
  readonly type?: string;
  /** Dimensions; a string or null is symbolic. */
  readonly shape: readonly (number | string | null | undefined)[];
}

const SELECTOR = /^([^[\]\s]+?)(?:\[(\d{1,6})\])?$/;

/** `probabilities[1]` → {output: 'probabilities', column: 1}; `psale` → {output: 'psale'}; undefined when malformed. */
export function parseSelector(text: string): OutputSelect | undefined {
  const m = SELECTOR.exec(text.trim());
  if (!m) return undefined;
  return m[2] === undefined ? { output: m[1]! } : { output: m[1]!, column: Number(m[2]) };
}

export function selectorText(sel: OutputSelect): string {
  return sel.column === undefined ? sel.output : `${sel.output}[${sel.column}]`;
}

/** `label (int64 [N]), probabilities (float32 [N, 2])`. */
export function describeOutputs(outputs: readonly OutputInfo[]): string {
  return outputs.map((o) => `${o.name} (${o.type ?? '?'} [${o.shape.map((d) => d ?? '?').join(', ')}])`).join(', ');
}

/** Values per row of an output, when its shape says (1 for [N] and [N, 1]); undefined when symbolic. */
export function widthOf(o: OutputInfo): number | undefined {
  const rest = o.shape.slice(1);
  if (rest.length === 0) return 1;
  let w = 1;
  for (const d of rest) {
    if (typeof d !== 'number') return undefined;
    w *= d;
  }
  return w;
}

/** The first output with several values per row, if any (a classifier's probabilities). */
export function firstWide(outputs: readonly OutputInfo[]): OutputInfo | undefined {
  return outputs.find((o) => (widthOf(o) ?? 1) > 1);
}

/** An example selector for a model: its wide output's last column (the positive class of a binary classifier). */
export function exampleSelector(outputs: readonly OutputInfo[]): string {
  const wide = firstWide(outputs);
  if (!wide) return `${outputs[0]?.name ?? 'probabilities'}`;
  return `${wide.name}[${Math.max(0, (widthOf(wide) ?? 2) - 1)}]`;
}

/**
 * Why `sel` cannot score with a model of these outputs (unknown output, column out of range, a
 * column of a one-value output, a wide output without a column), or undefined when it can.
 * `how(selector)` says how a selector is written where the caller is (a flag, a parameter).
 */
export function selectionProblem(outputs: readonly OutputInfo[], sel: OutputSelect, how: (selector: string) => string): string | undefined {
  const o = outputs.find((x) => x.name === sel.output);
  const listed = `the model's outputs are ${describeOutputs(outputs)}`;
  if (!o) return `the model has no output '${sel.output}'; ${listed}`;
  if (o.type !== undefined && !/^(float|double|int|uint|bool)/.test(o.type)) return `the model output '${o.name}' is ${o.type}, not numbers; ${listed}`;
  const width = widthOf(o);
  if (sel.column === undefined) {
    if (width !== undefined && width > 1) return `the model output '${o.name}' has ${width} values per row; choose the column to score by with ${how(`${o.name}[${width - 1}]`)} (columns 0-${width - 1}; for a binary classifier column 1 is the positive class)`;
    return undefined;
  }
  if (o.shape.length > 2) return `the model output '${o.name}' has rank ${o.shape.length}; a column can be chosen of an [N, k] output only; ${listed}`;
  if (width !== undefined && sel.column >= width) return `column ${sel.column} of the model output '${o.name}' is out of range: it has ${width} value${width === 1 ? '' : 's'} per row (columns 0-${width - 1}); ${listed}`;
  return undefined;
}

/**
 * The numbers of a float16 tensor. onnxruntime-node hands float16 data over as its raw bits in a
 * Uint16Array (where the runtime has no Float16Array); read as numbers, 2.0 came back as 16384.
 */
export function float16Values(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    out[i] = exp === 0 ? sign * frac * 2 ** -24 : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** An output that does not hold one value (or one row of values) per input row. */
export class NotPerRowError extends Error {}

/**
 * Column `column` of a row-major [rows, k] output. One value per row ([N], [N, 1]) comes back as it is
 * when no column is chosen. Throws (a plain Error with the message) when the values do not fit.
 */
export function columnOf(values: ArrayLike<number | bigint>, rows: number, column: number | undefined, name: string): Float32Array {
  // Fewer values than rows, or not a whole number per row: not a per-row output at all (a scalar such
  // as a batch mean); no column of it can be the score, so no selector is suggested.
  if (rows > 0 && (values.length < rows || values.length % rows !== 0)) {
    throw new NotPerRowError(`model output '${name}' has ${values.length} value${values.length === 1 ? '' : 's'} for ${rows} rows: it is not one value per row (a value for the whole batch, such as a scalar), so it cannot be a score or an output column`);
  }
  if (column === undefined) {
    if (values.length !== rows) {
      throw new Error(`model output '${name}' has ${values.length / rows} values per row; a score is one value per row: choose a column of it (e.g. ${name}[${Math.max(0, values.length / rows - 1)}])`);
    }
    if (values instanceof Float32Array) return values;
    return Float32Array.from(values, (v) => Number(v));
  }
  const width = rows === 0 ? 0 : values.length / rows;
  if (!Number.isInteger(width) || column >= width) throw new Error(`model output '${name}' has ${width} values per row; column ${column} is out of range`);
  const out = new Float32Array(rows);
  for (let r = 0, at = column; r < rows; r++, at += width) out[r] = Number(values[at]!);
  return out;
}
