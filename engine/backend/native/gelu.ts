/**
 * HF's exact GELU, x·0.5·(1 + erf(x/√2)), as one native kernel and one for its gradient, on the wasm
 * backend while the native kernels are installed. The stock expression is five elementwise ops forward
 * (Erf among them) and about ten backward (Exp, Erf again, Multiply, Add …), each a single-threaded pass
 * over the [B, T, 4H] intermediate activation; here each direction is one multithreaded pass, and only x is
 * kept for the backward pass (which recomputes erf) instead of four intermediates.
 *
 * Numbers: the forward pass keeps the stock op order, with an erf within 1 ulp (native/src/ew_avx2.cc), so
 * it differs from stock by float32 rounding only.
 */
import { tf } from '../tf';
import type { NativeAddon } from './addon';
import { heapOffset, type Kernel, type WasmBackendLike } from './kernels';

export const GELU = 'PeftStudioGelu';
export const GELU_GRAD = 'PeftStudioGeluGrad';

/** GELU through the native kernel where the current backend has it (native kernels installed), else undefined. */
export function nativeGelu(x: tf.Tensor): tf.Tensor | undefined {
  if (x.dtype !== 'float32' || !tf.getKernel(GELU, tf.getBackend())) return undefined;
  return tf.engine().runKernel(GELU, { x }) as tf.Tensor;
}

export function geluKernel(addon: NativeAddon): Kernel {
  return ({ inputs, backend }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const b = backend as WasmBackendLike;
    const out = b.makeOutput(x.shape, 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    // The heap is taken after makeOutput, which may have grown (and so replaced) it.
    if (n > 0) addon.gelu(b.wasm.HEAPU8.buffer as ArrayBuffer, heapOffset(b, x), heapOffset(b, out), n);
    return out;
  };
}

export function geluGradKernel(addon: NativeAddon): Kernel {
  return ({ inputs, backend }) => {
    const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
    const b = backend as WasmBackendLike;
    const out = b.makeOutput(x.shape, 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    if (n > 0) addon.geluGrad(b.wasm.HEAPU8.buffer as ArrayBuffer, heapOffset(b, x), heapOffset(b, dy), heapOffset(b, out), n);
    return out;
  };
}

/** Gradients are per kernel name, for every backend: registered once, used only where GELU itself runs. */
export function registerGeluGradient(): void {
  if (tf.getGradient(GELU)) return;
  tf.registerGradient({
    kernelName: GELU,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.engine().runKernel(GELU_GRAD, { dy: dy as tf.Tensor, x: saved[0]! }) as tf.Tensor }),
  });
}
