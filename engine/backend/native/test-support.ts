/** Shared by the native tests: whether they can run, and why not; seeded data; the fused-vs-op-by-op check. */
import assert from 'node:assert/strict';
import type { EncoderModel } from '../../model/model';
import type { TensorBatch } from '../../train/batches';
import { computeGradients } from '../../train/step';
import { tf } from '../tf';
import type { AddonLoad, NativeAddon } from './addon';

/**
 * `false` when the addon loaded; otherwise the reason, for node:test's `skip`. Under CI (which builds the
 * addon at `npm ci`) a missing addon is a failure, not a skip: it throws, and the test file fails to load.
 */
export function requireAddon(load: AddonLoad): false | string {
  if (load.addon) return false;
  const ci = process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
  if (ci) throw new Error(`CI=${process.env.CI}: the native addon must be built here, but ${load.reason}`);
  return load.reason;
}

/** A seeded generator of values in [-1, 1), so that a failure reproduces. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/** ‖a − b‖₂ / ‖b‖₂, or ‖a − b‖₂ when b is all zeros (exact-zero gradients must stay zero). */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relL2: length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) (num += (a[i]! - b[i]!) ** 2), (den += b[i]! ** 2);
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/**
 * Wraps the named addon functions to count the calls that reach native code, so a test can tell a native
 * run from a stock fallback. Returns the live counters.
 */
export function countAddonCalls<K extends keyof NativeAddon>(addon: NativeAddon | undefined, names: readonly K[]): Record<K, number> {
  const calls = Object.fromEntries(names.map((n) => [n, 0])) as Record<K, number>;
  if (!addon) return calls;
  const fns = addon as unknown as Record<K, (...a: unknown[]) => unknown>;
  for (const name of names) {
    const f = fns[name].bind(addon);
    fns[name] = (...args: unknown[]) => {
      calls[name] += 1;
      return f(...args);
    };
  }
  return calls;
}

/**
 * Runs `body` once per kernel this CPU has (AVX2 and generic, or generic alone) with at least two threads,
 * then restores the addon's own configuration, so a test checks every code path a user could get.
 */
export async function forEachKernel(addon: NativeAddon, body: (isa: 'avx2' | 'generic') => void | Promise<void>): Promise<void> {
  const { threads, bestIsa } = addon.info();
  try {
    for (const isa of bestIsa === 'avx2' ? (['avx2', 'generic'] as const) : (['generic'] as const)) {
      addon.configure(Math.max(2, threads), isa);
      await body(isa);
    }
  } finally {
    addon.configure(threads, bestIsa);
  }
}

/**
 * The fused-path tests' batch: 3 sequences of 9 token ids ((i·7) mod 50 over a 50-word vocabulary), the second
 * and third padded by 2 and 4 positions, labels 0 1 1.
 */
export function paddedTestBatch(): TensorBatch {
  return {
    inputs: {
      inputIds: tf.tensor2d(Array.from({ length: 27 }, (_, i) => (i * 7) % 50), [3, 9], 'int32'),
      attentionMask: tf.tensor2d(Array.from({ length: 27 }, (_, i) => (i % 9 < 9 - 2 * Math.floor(i / 9) ? 1 : 0)), [3, 9], 'int32'),
      tokenTypeIds: tf.zeros([3, 9], 'int32') as tf.Tensor2D,
    },
    labels: tf.tensor1d([0, 1, 1], 'int32'),
    tokens: 27,
    size: 3,
  };
}

/**
 * A fused kernel against the op-by-op path it replaces, in eval and in training mode (dropout included: the
 * fused kernel must draw its seed where the separate path's dropout does). Each mode runs the step once with
 * `kernelName` registered, where every counter of `calls` must grow by its `callsPerPass`, and once with the
 * kernel unregistered; the losses must agree within 1e-6 and every gradient not `skipGrad`ped within 1e-5
 * rel L2. Disposes `batch`.
 */
export async function checkFusedMatchesOpByOp<K extends string>(o: {
  kernelName: string;
  model: EncoderModel;
  batch: TensorBatch;
  vars: Map<string, tf.Variable>;
  microBatchSize?: 'auto';
  calls: Record<K, number>;
  callsPerPass: Partial<Record<K, number>>;
  skipGrad?: (name: string) => boolean;
}): Promise<void> {
  const run = async (training: boolean) => {
    const r = await computeGradients(o.model, [o.batch], 'single_label_classification', o.vars, { training, seed: 5, ...(o.microBatchSize ? { microBatchSize: o.microBatchSize } : {}) });
    const grads = new Map<string, Float32Array>();
    for (const [name, g] of r.grads) grads.set(name, (await g.data()) as Float32Array);
    tf.dispose([...r.grads.values()]);
    return { loss: r.loss, grads };
  };
  const kernel = tf.getKernel(o.kernelName, 'wasm')!;
  try {
    for (const training of [false, true]) {
      const before = { ...o.calls };
      const fused = await run(training);
      for (const k of Object.keys(o.callsPerPass) as K[]) assert.equal(o.calls[k] - before[k], o.callsPerPass[k]!, `${k}: one fused call per layer`);
      tf.unregisterKernel(o.kernelName, 'wasm');
      try {
        const apart = await run(training);
        assert.ok(Math.abs(fused.loss - apart.loss) < 1e-6, `training ${training}: loss ${fused.loss} vs ${apart.loss}`);
        for (const [name, g] of apart.grads) {
          if (o.skipGrad?.(name)) continue;
          assert.ok(relL2(fused.grads.get(name)!, g) < 1e-5, `training ${training}: ${name} ${relL2(fused.grads.get(name)!, g)}`);
        }
      } finally {
        tf.registerKernel(kernel);
      }
    }
  } finally {
    tf.dispose([...Object.values(o.batch.inputs), o.batch.labels]);
  }
}
