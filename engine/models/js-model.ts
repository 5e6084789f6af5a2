/**
 * A registry function of the js flavor as a ModelScore model: the feature
 * matrix ModelScore builds is split into the function's named input columns,
 * the function runs in its own worker (engine/registry/function.ts), and its
 * first declared output column is the score.
 */
import type { ModelRef, ModelRunner } from '../api.js';
import { AirmailError } from '../errors.js';
import { loadFunction } from '../registry/function.js';

export async function loadJsModel(bytes: Uint8Array, ref: ModelRef): Promise<ModelRunner & { release(): Promise<void> }> {
  const inputs = ref.inputs ?? [];
  const output = ref.output ?? '';
  if (inputs.length === 0 || output === '' || !ref.sha256) throw new AirmailError('MODEL_LOAD_FAILED', `js function ${ref.path} has no declared inputs, output or sha256`);
  const fn = await loadFunction({
    name: ref.binding ?? ref.path,
    version: Number(/@(\d+)$/.exec(ref.version)?.[1] ?? 0),
    function: { flavor: 'js', artifact: { sha256: ref.sha256, size: bytes.length }, inputs: inputs.map((name) => ({ name, type: 'float32' as const })), outputs: [{ name: output, type: 'float32' as const }] },
  }, bytes).catch((err: unknown) => {
    throw new AirmailError('MODEL_LOAD_FAILED', (err as Error).message, { cause: err });
  });
  const width = inputs.length;
  return {
    inputName: inputs[0]!,
    featureCount: width,
    async predict(features: Float32Array, rows: number): Promise<Float32Array> {
      const columns: Record<string, Float32Array> = {};
      inputs.forEach((name, j) => {
        const col = new Float32Array(rows);
        for (let r = 0, at = j; r < rows; r++, at += width) col[r] = features[at]!;
        columns[name] = col;
      });
      const out = await fn.predict(columns, rows).catch((err: unknown) => {
        throw new AirmailError('MODEL_FAILED', (err as Error).message, { cause: err });
      });
      const col = out[output];
      if (!col || col.length !== rows) throw new AirmailError('MODEL_FAILED', `js function ${ref.binding ?? ref.path} returned ${col ? `${col.length} values` : 'no column'} '${output}' for ${rows} rows`);
      return Float32Array.from(col as ArrayLike<number>, (v) => Number(v));
    },
    release: () => fn.close(),
  };
}
