/**
 * Picks the fastest TF.js backend that loads on this machine, and says why each faster one did not.
 * The native TensorFlow packages are optional dependencies (their install downloads libtensorflow, which
 * often fails), so "not installed" is a normal outcome here, never a crash.
 *
 * Order: tensorflow-gpu (@tensorflow/tfjs-node-gpu) → webgpu (Dawn, hardware adapters only; see webgpu.ts)
 * → tensorflow (@tensorflow/tfjs-node) → wasm → cpu.
 * Force one with `initBackend({ backend })` or PEFT_STUDIO_BACKEND=<name>; a forced backend that fails is
 * an error, not a silent fallback.
 */
import * as path from 'node:path';
import { installEagerGradientRelease } from './eager-release';
import { installWasmKernels } from './kernels/unsorted-segment-sum';
import { installNativeKernels } from './native';
import { tf } from './tf';
import { PeftStudioError } from '../errors';
import { loadWebGpu, probeAdapter } from './webgpu';

/** The auto order, fastest first. The CLI, run configs and the extension's setting all take these names. */
export const BACKEND_NAMES = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  /** Why it was skipped or failed; absent for the one that loaded. */
  reason?: string;
}

export interface BackendReport {
  active: BackendName;
  /** TF.js's own name for it (`tensorflow`, `webgpu`, `wasm`, `cpu`). */
  tfBackend: string;
  /** The hardware it runs on, where the backend can say (webgpu: the adapter's vendor, architecture, …). */
  device?: string;
  /** Something the user should know about the active backend (e.g. a software WebGPU adapter). */
  note?: string;
  forced: boolean;
  /** Every backend tried, fastest first, up to and including the active one. */
  attempts: BackendAttempt[];
}

/** Loads one backend's package and makes it current; throws with a readable reason when it cannot. */
export type BackendLoader = (ctx: { forced: boolean }) => Promise<string | LoadedBackend>;

/** What a loader returns when it has more to say than TF.js's name for the backend. */
export interface LoadedBackend {
  tfBackend: string;
  device?: string;
  note?: string;
}

/** Optional native packages are looked up at run time (never bundled): they exist only where they installed. */
const requirePackage = (name: string): unknown => require(name);

export const DEFAULT_LOADERS: Record<BackendName, BackendLoader> = {
  'tensorflow-gpu': async () => activate(() => requirePackage('@tensorflow/tfjs-node-gpu'), 'tensorflow'),
  webgpu: async ({ forced }) => loadWebGpu(forced, { probe: () => probeAdapter(), activate: (register) => activate(register, 'webgpu') }),
  tensorflow: async () => activate(() => requirePackage('@tensorflow/tfjs-node'), 'tensorflow'),
  wasm: async () => {
    const tfBackend = await activate(() => {
      // A static require: the wasm backend is a regular dependency and must be bundled with the worker.
      const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(p: string): void };
      const dir = process.env.PEFT_STUDIO_WASM_DIR ?? wasmDir();
      wasm.setWasmPaths(dir + path.sep);
    }, 'wasm');
    // The matrix products (and gathers) go to the optional native addon where it was built: same numbers
    // within float32 rounding, several times faster. Without it the stock wasm kernels run, and we say why.
    installWasmKernels();
    const native = installNativeKernels();
    const note = native.active ? `native kernels: ${native.isa}, ${native.threads} threads` : `native kernels off: ${native.reason}`;
    return { tfBackend, note };
  },
  cpu: async () => activate(() => undefined, 'cpu'),
};

/** Where the .wasm binaries are: next to the package in a checkout, in `wasm/` beside a bundled build. */
function wasmDir(): string {
  try {
    return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  } catch {
    return path.join(__dirname, 'wasm');
  }
}

async function activate(load: () => void, tfName: string): Promise<string> {
  try {
    load();
  } catch (e) {
    throw new Error(explainLoadFailure(e));
  }
  if (!tf.findBackendFactory(tfName)) throw new Error(`package loaded but registered no "${tfName}" backend`);
  if (!(await tf.setBackend(tfName))) throw new Error(`"${tfName}" backend failed to initialise`);
  await tf.ready();
  installEagerGradientRelease();
  return tfName;
}

function explainLoadFailure(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'MODULE_NOT_FOUND' && /tfjs-node/.test(String(err.message)) && !/\.node/.test(String(err.message))) {
    return 'not installed (optional; its install downloads libtensorflow — see README "Native backends")';
  }
  const first = String(err?.message ?? e).split('\n')[0];
  return `failed to load: ${first}`;
}

let current: BackendReport | undefined;

export interface InitBackendOptions {
  /** Force one backend; 'auto' (default) tries the order above. Falls back to PEFT_STUDIO_BACKEND. */
  backend?: BackendName | 'auto';
  /** Replace package loading, for tests. */
  loaders?: Partial<Record<BackendName, BackendLoader>>;
  /** Re-run selection even if a backend is already active. */
  reinit?: boolean;
}

/** The selection in progress: calls run one after another (see initBackend). */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Selects and activates a backend. Calls are serialised: TF.js's `setBackend` is not safe to interleave
 * (two concurrent inits of the async wasm backend make the earlier one report failure, so it fell back to
 * cpu while the later one then installed the wasm instance under the cpu name, and every kernel crashed).
 */
export function initBackend(opts: InitBackendOptions = {}): Promise<BackendReport> {
  const run = queue.then(() => selectBackend(opts));
  queue = run.catch(() => undefined);
  return run;
}

async function selectBackend(opts: InitBackendOptions): Promise<BackendReport> {
  if (current && !opts.reinit && !opts.backend) return current;
  const requested = opts.backend ?? parseBackendEnv(process.env.PEFT_STUDIO_BACKEND) ?? 'auto';
  // The cpu backend's "install tfjs-node" banner is noise here: we report backends ourselves.
  tf.env().set('PROD', true);
  const loaders = { ...DEFAULT_LOADERS, ...opts.loaders };
  const candidates = requested === 'auto' ? [...BACKEND_NAMES] : [requested];
  const attempts: BackendAttempt[] = [];
  for (const name of candidates) {
    try {
      const forced = requested !== 'auto';
      const loaded = await loaders[name]({ forced });
      const { tfBackend, device, note } = typeof loaded === 'string' ? { tfBackend: loaded } : loaded;
      attempts.push({ name, ok: true });
      current = { active: name, tfBackend, ...(device && { device }), ...(note && { note }), forced, attempts };
      return current;
    } catch (e) {
      attempts.push({ name, ok: false, reason: (e as Error).message });
    }
  }
  const detail = attempts.map((a) => `${a.name}: ${a.reason}`).join('; ');
  throw new PeftStudioError('BACKEND', requested === 'auto' ? `no TF.js backend could be loaded (${detail})` : `backend "${requested}" cannot be used — ${detail}`);
}

export function parseBackendEnv(value: string | undefined): BackendName | 'auto' | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'auto' || (BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName | 'auto';
  throw new PeftStudioError('BACKEND', `PEFT_STUDIO_BACKEND="${value}" is not a backend (choose one of: auto, ${BACKEND_NAMES.join(', ')})`);
}

export function currentBackend(): BackendReport | undefined {
  return current;
}

export { describeBackend, describeBackendBrief } from './describe';
