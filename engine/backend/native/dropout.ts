/**
 * Dropout as one native kernel on the wasm backend while the native kernels are installed. Stock
 * `tf.dropout` draws its uniforms in JavaScript (seedrandom, one number at a time) and then runs four
 * tensor ops; for BERT-Tiny at 32 × 128 that was half of a training step. Here whether element i is kept is
 * a hash of (seed, i) (native/src/dropout_hash.h), computed on all threads; the gradient is the same kernel
 * applied to dy with the same seed, so no mask is kept for the backward pass.
 *
 * Masks differ from stock `tf.dropout`'s for the same seed (a different generator), as PyTorch's differ
 * from both; a run resumed on the same backend replays the same masks, as with stock.
 */
import { tf } from '../tf';
import type { NativeAddon } from './addon';
import { heapOffset, type Kernel, type WasmBackendLike } from './kernels';

export const DROPOUT = 'PeftStudioDropout';

/** The drop probability in units of 2^-24, as the native kernel compares it with 24 random bits. */
export function drop24(rate: number): number {
  return Math.round(rate * 16777216);
}

/**
 * x with each element zeroed with probability `rate` and the rest scaled by 1 / (1 − rate), through the
 * native kernel where the current backend has it, else undefined (the caller runs stock `tf.dropout`).
 * `seed` is a non-negative 32-bit integer.
 */
export function nativeDropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor | undefined {
  // A rate within 2^-25 of 1 rounds to "drop everything", which the kernel refuses: stock handles it.
  if (x.dtype !== 'float32' || !(rate > 0 && drop24(rate) < 16777216) || !tf.getKernel(DROPOUT, tf.getBackend())) return undefined;
  return tf.engine().runKernel(DROPOUT, { x }, { drop24: drop24(rate), seed: seed >>> 0 }) as tf.Tensor;
}

export function dropoutKernel(addon: NativeAddon): Kernel {
  return ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const { drop24: d, seed } = attrs as { drop24: number; seed: number };
    const b = backend as WasmBackendLike;
    const out = b.makeOutput(x.shape, 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    // The heap is taken after makeOutput, which may have grown (and so replaced) it.
    if (n > 0) addon.dropout(b.wasm.HEAPU8.buffer as ArrayBuffer, heapOffset(b, x), heapOffset(b, out), n, seed, d);
    return out;
  };
}

/** d/dx (x·mask·scale) = mask·scale: the same kernel, same seed, on dy. */
export function registerDropoutGradient(): void {
  if (tf.getGradient(DROPOUT)) return;
  tf.registerGradient({
    kernelName: DROPOUT,
    gradFunc: (dy, _saved, attrs) => ({ x: () => tf.engine().runKernel(DROPOUT, { x: dy as tf.Tensor }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor }),
  });
}
