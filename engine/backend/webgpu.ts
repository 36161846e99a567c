/**
 * The WebGPU backend: `@tensorflow/tfjs-backend-webgpu` running on Dawn's Node bindings (the optional
 * `webgpu` package). Three things make it different from the other backends:
 *  - the `webgpu` package is an optional native module and ESM-only, so it is found at run time and
 *    loaded with a dynamic import (never bundled, never required at start-up);
 *  - loading the package says nothing about the hardware: we ask Dawn for an adapter first and skip the
 *    backend, with the adapter's name, when there is none or when it is only a software (fallback) one,
 *    such as SwiftShader, which is slower than the CPU backends — unless the user forced webgpu;
 *  - tfjs-backend-webgpu registers itself at import time only if `navigator.gpu` exists, so Dawn's GPU
 *    object and the GPU* constants must be global before that import.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tf } from './tf';

/** The parts of Dawn's GPUAdapterInfo we report. All optional: older Dawn builds lack some. */
export interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

export interface DawnAdapter {
  info?: AdapterInfo;
  /** Where Dawn versions before GPUAdapterInfo.isFallbackAdapter put the flag. */
  isFallbackAdapter?: boolean;
}

export interface DawnGpu {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<DawnAdapter | null>;
}

/** What `import('webgpu')` gives: a GPU factory and the GPU* constants (GPUBufferUsage, …). */
export interface DawnModule {
  create(flags: string[]): DawnGpu;
  globals: Record<string, unknown>;
}

/** "google swiftshader swiftshader-device-subzero- (SwiftShader driver 5.0.0)"; never empty. */
export function adapterName(info: AdapterInfo | undefined): string {
  const parts = [info?.vendor, info?.architecture, info?.device].filter((s): s is string => !!s);
  const name = parts.join(' ');
  if (info?.description) return name ? `${name} (${info.description})` : info.description;
  return name || 'unnamed adapter';
}

export function isFallbackAdapter(a: DawnAdapter): boolean {
  return a.info?.isFallbackAdapter ?? a.isFallbackAdapter ?? false;
}

/**
 * Finds and imports the `webgpu` package. `require.resolve` finds it from node_modules at run time (from
 * dist/ in a bundled build), and the import of a computed file URL is one that bundlers leave alone.
 */
export async function importDawn(): Promise<DawnModule> {
  let entry: string;
  try {
    entry = require.resolve('webgpu');
  } catch {
    throw new WebGpuUnavailable('not-installed', "webgpu package not installed (optional dependency: Dawn's prebuilt Node bindings)");
  }
  try {
    return (await import(pathToFileURL(entry).href)) as DawnModule;
  } catch (e) {
    // e.g. dawn.node built for another platform, or a missing system library it links against.
    throw new WebGpuUnavailable('load-failed', `webgpu native module failed to load: ${firstLine(e)}`);
  }
}

const systemHasVulkan = (): boolean => process.platform !== 'linux' || linuxVulkanLoaderPresent();

/** Whether the dynamic linker can find libvulkan.so.1: in LD_LIBRARY_PATH or in ld.so's cache. */
export function linuxVulkanLoaderPresent(env: NodeJS.ProcessEnv = process.env, cacheFile = '/etc/ld.so.cache'): boolean {
  const dirs = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  if (dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')))) return true;
  try {
    return fs.readFileSync(cacheFile).includes('libvulkan.so.1');
  } catch {
    // No cache to read (unusual distributions): let Dawn try and speak for itself.
    return true;
  }
}

/** Why there is no usable adapter: tools act on the kind (only 'no-adapter' is worth trying SwiftShader for). */
export type UnavailableKind = 'not-installed' | 'load-failed' | 'no-adapter' | 'request-failed';

export class WebGpuUnavailable extends Error {
  constructor(
    readonly kind: UnavailableKind,
    message: string,
  ) {
    super(message);
  }
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}

export type AdapterProbe =
  | { ok: true; dawn: DawnModule; gpu: DawnGpu; adapter: DawnAdapter; name: string; fallback: boolean }
  | { ok: false; kind: UnavailableKind; reason: string };

/**
 * One Dawn GPU object per loaded module, for the life of the process. Devices do not keep their GPU
 * object alive: replacing it (on a second backend selection) let the first be collected under the live
 * tfjs device, and the process aborted in native code.
 */
const gpus = new WeakMap<DawnModule, DawnGpu>();

function gpuOf(dawn: DawnModule): DawnGpu {
  let gpu = gpus.get(dawn);
  if (!gpu) gpus.set(dawn, (gpu = dawn.create([])));
  return gpu;
}

/** Loads Dawn and asks for the adapter tfjs-backend-webgpu will get (it asks for 'high-performance'). */
export async function probeAdapter(loadDawn: () => Promise<DawnModule> = importDawn, hasVulkan: () => boolean = loadDawn === importDawn ? systemHasVulkan : () => true): Promise<AdapterProbe> {
  // Dawn prints a two-line "Couldn't load Vulkan" warning to stderr on every selection where Linux has no
  // Vulkan loader (most servers and CI boxes); that is a plain "no GPU" here, said once in our own words.
  if (!hasVulkan()) return { ok: false, kind: 'no-adapter', reason: 'no adapter (no Vulkan loader: libvulkan.so.1 not found; Dawn needs Vulkan and a GPU driver on Linux)' };
  let dawn: DawnModule;
  try {
    dawn = await loadDawn();
  } catch (e) {
    if (e instanceof WebGpuUnavailable) return { ok: false, kind: e.kind, reason: e.message };
    return { ok: false, kind: 'load-failed', reason: `webgpu failed to load: ${firstLine(e)}` };
  }
  try {
    const gpu = gpuOf(dawn);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      return { ok: false, kind: 'no-adapter', reason: 'no adapter (Dawn found no GPU driver; on Linux it needs Vulkan: libvulkan.so.1 and a GPU driver)' };
    }
    return { ok: true, dawn, gpu, adapter, name: adapterName(adapter.info), fallback: isFallbackAdapter(adapter) };
  } catch (e) {
    return { ok: false, kind: 'request-failed', reason: `adapter request failed: ${firstLine(e)}` };
  }
}

/** Makes Dawn's GPU the page-style `navigator.gpu` and defines GPUBufferUsage & co., as browsers do. */
function installGlobals(dawn: DawnModule, gpu: DawnGpu): void {
  for (const [k, v] of Object.entries(dawn.globals)) {
    if (!(k in globalThis)) Object.defineProperty(globalThis, k, { value: v, writable: true, configurable: true });
  }
  const g = globalThis as { navigator?: { gpu?: unknown } };
  // Node 21+ has a navigator object (without gpu); Node 20 has none.
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, writable: true, configurable: true });
}

/** Registers tfjs's webgpu backend against an already-probed adapter; then `setBackend('webgpu')` works. */
export function registerWebGpuBackend(dawn: DawnModule, gpu: DawnGpu): void {
  installGlobals(dawn, gpu);
  // A static require: tfjs-backend-webgpu is a regular dependency and is bundled with the worker.
  require('@tensorflow/tfjs-backend-webgpu');
  // Off: otherwise tfjs runs small ops whose inputs are still in CPU memory with its JavaScript kernels,
  // so a "webgpu" run would partly be a cpu run, and the parity tests would not test the GPU kernels.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
}

export interface WebGpuLoaded {
  tfBackend: string;
  device: string;
  note?: string;
}

export interface WebGpuDeps {
  probe(): Promise<AdapterProbe>;
  /** Registers the backend and makes it current (select.ts's `activate`); returns TF.js's name for it. */
  activate(register: () => void): Promise<string>;
}

/**
 * Loads webgpu if there is a hardware adapter. A software (fallback) adapter is refused in auto mode —
 * WebGPU emulated on the CPU loses to wasm — but accepted when forced, e.g. to check parity without a GPU.
 */
export async function loadWebGpu(forced: boolean, deps: WebGpuDeps): Promise<WebGpuLoaded> {
  const p = await deps.probe();
  if (!p.ok) throw new Error(p.reason);
  if (p.fallback && !forced) throw new Error(`only a software (fallback) adapter: ${p.name}; slower than the CPU backends (force webgpu to use it anyway)`);
  const tfBackend = await deps.activate(() => registerWebGpuBackend(p.dawn, p.gpu));
  return p.fallback
    ? { tfBackend, device: p.name, note: 'software (fallback) adapter: WebGPU emulated on the CPU, for correctness checks, not speed' }
    : { tfBackend, device: p.name };
}
