/**
 * HF's LayerNorm over the last axis, y = (x − mean)·rsqrt(var + eps)·gamma + beta (biased variance), as one
 * native kernel and one for all three gradients, on the wasm backend while the native kernels are
 * installed. The stock expression is about ten TF.js ops forward and twenty backward, each paying dispatch
 * and tape costs larger than its arithmetic at BERT sizes; here each direction is one multithreaded pass,
 * and only x and gamma are kept for the backward pass (which recomputes the row statistics).
 *
 * Numbers: row sums are taken in double and the float32 steps keep the stock op order, so results differ
 * from stock by float32 rounding only. dgamma / dbeta are summed over rows in an order fixed by the shape.
 */
import { tf } from '../tf';
import type { NativeAddon } from './addon';
import { heapOffset, type Kernel, type WasmBackendLike } from './kernels';

export const LAYER_NORM = 'PeftStudioLayerNorm';
export const LAYER_NORM_GRAD = 'PeftStudioLayerNormGrad';
/** LayerNorm(x + residual), BERT's "add & norm": outputs [y, x + residual] (see addLayerNorm). */
export const ADD_LAYER_NORM = 'PeftStudioAddLayerNorm';

/**
 * LayerNorm through the native kernel where the current backend has it, else undefined (the caller runs
 * the stock ops). gamma and beta must be [H] for x [..., H].
 */
export function nativeLayerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number, residual?: tf.Tensor): tf.Tensor | undefined {
  const h = x.shape[x.rank - 1];
  // The addon takes eps as a positive double; anything else is the stock ops' to handle (config.ts refuses it first).
  if (!(Number.isFinite(eps) && eps > 0)) return undefined;
  if (x.rank < 1 || [x, gamma, beta].some((t) => t.dtype !== 'float32')) return undefined;
  if (gamma.rank !== 1 || beta.rank !== 1 || gamma.shape[0] !== h || beta.shape[0] !== h) return undefined;
  if (residual && (residual.dtype !== 'float32' || !tf.util.arraysEqual(residual.shape, x.shape))) return undefined;
  if (!tf.getKernel(LAYER_NORM, tf.getBackend())) return undefined;
  if (!residual) return tf.engine().runKernel(LAYER_NORM, { x, gamma, beta }, { eps }) as tf.Tensor;
  return addLayerNorm(x, residual, gamma, beta, eps);
}

/**
 * LayerNorm(x + residual) with a hand-written gradient. Only the sum (and gamma) is kept for the backward
 * pass, as LayerNorm alone keeps its input; x and residual are not (a taped Add would keep both, only to
 * read their shapes). A custom gradient rather than a registered one: the kernel's second output, the sum,
 * is internal, and a registered gradient would get a zero-filled upstream gradient made for it every pass.
 */
function addLayerNorm(x: tf.Tensor, residual: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const f = (xIn: tf.Tensor, rIn: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: (ts: tf.Tensor[]) => void) => {
    const [y, sum] = tf.engine().runKernel(ADD_LAYER_NORM, { x: xIn, residual: rIn, gamma: g, beta: b }, { eps }) as tf.Tensor[];
    save([sum!, g]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [dx, dgamma, dbeta] = tf.engine().runKernel(LAYER_NORM_GRAD, { dy, x: saved[0]!, gamma: saved[1]! }, { eps }) as tf.Tensor[];
        // d(x + residual)/dx = d/dresidual = 1: both get dx (a clone shares its memory).
        return [dx!, tf.clone(dx!), dgamma!, dbeta!];
      },
    };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0])(x, residual, gamma, beta);
}

/** [rows, cols] of x: the last axis is normalised. */
function rowsCols(x: tf.TensorInfo): [number, number] {
  const cols = x.shape[x.shape.length - 1]!;
  return [cols === 0 ? 0 : tf.util.sizeFromShape(x.shape) / cols, cols];
}

export function layerNormKernel(addon: NativeAddon): Kernel {
  return ({ inputs, backend, attrs }) => {
    const { x, gamma, beta } = inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
    const b = backend as WasmBackendLike;
    const out = b.makeOutput(x.shape, 'float32');
    const [rows, cols] = rowsCols(x);
    // The heap is taken after makeOutput, which may have grown (and so replaced) it.
    if (rows * cols > 0)
      addon.layerNorm(b.wasm.HEAPU8.buffer as ArrayBuffer, heapOffset(b, x), heapOffset(b, gamma), heapOffset(b, beta), heapOffset(b, out), rows, cols, (attrs as { eps: number }).eps);
    return out;
  };
}

/** Outputs [y, x + residual]. */
export function addLayerNormKernel(addon: NativeAddon): Kernel {
  return (({ inputs, backend, attrs }: Parameters<Kernel>[0]) => {
    const { x, residual, gamma, beta } = inputs as { x: tf.TensorInfo; residual: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
    const b = backend as WasmBackendLike;
    const sum = b.makeOutput(x.shape, 'float32');
    const out = b.makeOutput(x.shape, 'float32');
    const [rows, cols] = rowsCols(x);
    if (rows * cols > 0) {
      const off = (t: tf.TensorInfo) => heapOffset(b, t);
      const heap = b.wasm.HEAPU8.buffer as ArrayBuffer;
      addon.add(heap, off(x), off(residual), off(sum), rows * cols);
      addon.layerNorm(heap, off(sum), off(gamma), off(beta), off(out), rows, cols, (attrs as { eps: number }).eps);
    }
    return [out, sum];
  }) as unknown as Kernel;
}

/** Outputs [dx, dgamma, dbeta]. */
export function layerNormGradKernel(addon: NativeAddon): Kernel {
  return (({ inputs, backend, attrs }: Parameters<Kernel>[0]) => {
    const { dy, x, gamma } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo; gamma: tf.TensorInfo };
    const b = backend as WasmBackendLike;
    const dx = b.makeOutput(x.shape, 'float32');
    const dgamma = b.makeOutput(gamma.shape, 'float32');
    const dbeta = b.makeOutput(gamma.shape, 'float32');
    const [rows, cols] = rowsCols(x);
    // With no rows the sums are zero, which the addon writes too (cols > 0).
    if (cols > 0) {
      const off = (t: tf.TensorInfo) => heapOffset(b, t);
      addon.layerNormGrad(b.wasm.HEAPU8.buffer as ArrayBuffer, off(dy), off(x), off(gamma), off(dx), off(dgamma), off(dbeta), rows, cols, (attrs as { eps: number }).eps);
    }
    return [dx, dgamma, dbeta];
  }) as unknown as Kernel;
}

/**
 * Gradients are per kernel name, for every backend: registered once, used only where LAYER_NORM runs. The
 * one backward kernel gives all three gradients, so it runs once, when the tape asks for this node's
 * gradients; what the tape does not use (dgamma under BitFit) is disposed with the rest of the backward pass.
 */
export function registerLayerNormGradient(): void {
  if (tf.getGradient(LAYER_NORM)) return;
  tf.registerGradient({
    kernelName: LAYER_NORM,
    inputsToSave: ['x', 'gamma'],
    gradFunc: (dy, saved, attrs) => {
      const [dx, dgamma, dbeta] = tf.engine().runKernel(LAYER_NORM_GRAD, { dy: dy as tf.Tensor, x: saved[0]!, gamma: saved[1]! }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! };
    },
  });
}
