/**
 * A js artifact is one self-contained ES module: the worker imports it from memory, where relative
 * imports and packages cannot be found. The publisher's side bundles a module file with esbuild
 * (TypeScript types stripped, relative imports and packages inlined; `node:` built-ins stay imports);
 * a module that needs nothing of that is published byte for byte. Bytes that arrive without their
 * files (an HTTP publish) are checked instead, and refused with what to do.
 */
import { isBuiltin } from 'node:module';
import type { Message, Plugin } from 'esbuild';
import { RegistryError } from './errors.js';

type Esbuild = typeof import('esbuild');
const esbuild = (): Promise<Esbuild> => import('esbuild');

const TS = /\.[cm]?tsx?$/i;

function where(m: Message): string {
  return m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : '';
}

function failure(err: unknown, what: string): RegistryError {
  const errors = (err as { errors?: Message[] }).errors;
  const text = errors?.length ? errors.slice(0, 5).map((m) => `${where(m)}${m.text}`).join('; ') : (err as Error).message;
  return new RegistryError('MODEL_LOAD_FAILED', `${what}: ${text}`);
}

/** Bundles the module at `path` when it is TypeScript or imports anything but `node:` built-ins; otherwise returns its bytes. */
export async function bundleJsModule(path: string, original: Uint8Array): Promise<Uint8Array> {
  const { build } = await esbuild();
  const r = await build({ entryPoints: [path], bundle: true, write: false, format: 'esm', platform: 'node', target: 'node20', metafile: true, logLevel: 'silent' })
    .catch((err: unknown) => { throw failure(err, `the js module ${path} cannot be bundled`); });
  const inputs = Object.keys(r.metafile.inputs);
  if (inputs.length <= 1 && !TS.test(path)) return original;
  return r.outputFiles[0]!.contents;
}

const selfContained = (filename: string): Plugin => ({
  name: 'self-contained',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (a) => {
      if (a.kind === 'entry-point' || isBuiltin(a.path)) return a.kind === 'entry-point' ? undefined : { external: true };
      return { errors: [{ text: `${filename} imports '${a.path}', but a js artifact must be one self-contained ES module (only node: built-ins may be imported): publish the entry file with \`airmail publish\` or publishModel(), which bundle it, or bundle it first (esbuild --bundle --format=esm --platform=node)` }] };
    });
  },
});

/** Refuses module bytes that import files or packages, or that are TypeScript, saying what is supported. */
export async function assertSelfContained(bytes: Uint8Array, filename = 'the module'): Promise<void> {
  const { build, transform } = await esbuild();
  const contents = Buffer.from(bytes).toString('utf8');
  try {
    await build({ stdin: { contents, loader: 'js', sourcefile: filename }, bundle: true, write: false, format: 'esm', platform: 'node', logLevel: 'silent', plugins: [selfContained(filename)] });
  } catch (err) {
    const isTs = await transform(contents, { loader: 'ts', format: 'esm' }).then(() => true, () => false);
    const imports = (err as { errors?: Message[] }).errors?.some((m) => m.pluginName === 'self-contained');
    if (isTs && !imports) {
      throw new RegistryError('MODEL_LOAD_FAILED', `${filename} is TypeScript (or other syntax node cannot run): a js artifact must be JavaScript; publish the .ts file with \`airmail publish\` or publishModel(), which compile it, or compile it first`);
    }
    throw failure(err, `${filename} cannot be loaded as a js artifact`);
  }
}
