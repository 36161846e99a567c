/**
 * BERT's attention probabilities, softmax(scores / √d + mask), as one native kernel and its gradient as
 * another, on the wasm backend while the native kernels are installed. Stock, that is RealDiv, Add and
 * Softmax forward (three passes over the [B, heads, T, T] scores, the division's inputs kept for backward)
 * and Multiply, Sum, Sub, Multiply, RealDiv backward; here each direction is one multithreaded pass per row,
 * and only the probabilities are kept.
 *
 * Numbers: the same op order as HF (divide, add the mask, softmax with the row maximum subtracted), exp
 * within about 1 ulp, row sums in double; the results differ from stock by float32 rounding only.
 */
import { tf } from '../tf';
import type { NativeAddon } from './addon';
import { heapOffset, type Kernel, type WasmBackendLike } from './kernels';

export const ATTENTION_SOFTMAX = 'PeftStudioAttentionSoftmax';
export const ATTENTION_SOFTMAX_GRAD = 'PeftStudioAttentionSoftmaxGrad';

/**
 * softmax(scores / divisor + mask) over the last axis through the native kernel where the current backend
 * has it, else undefined (the caller runs the stock ops). scores: [B, heads, Tq, Tk]; mask: [B, 1, 1, Tk]
 * (HF's extended attention mask) or none.
 */
export function nativeAttentionSoftmax(scores: tf.Tensor4D, mask: tf.Tensor4D | undefined, divisor: number): tf.Tensor4D | undefined {
  if (scores.dtype !== 'float32' || scores.rank !== 4 || !(divisor > 0) || !tf.getKernel(ATTENTION_SOFTMAX, tf.getBackend())) return undefined;
  const [b, , , tk] = scores.shape;
  if (mask && (mask.dtype !== 'float32' || mask.rank !== 4 || !tf.util.arraysEqual(mask.shape, [b, 1, 1, tk]))) return undefined;
  const inputs: tf.NamedTensorMap = mask ? { scores, mask } : { scores };
  return tf.engine().runKernel(ATTENTION_SOFTMAX, inputs, { divisor }) as tf.Tensor4D;
}

export function attentionSoftmaxKernel(addon: NativeAddon): Kernel {
  return ({ inputs, backend, attrs }) => {
    const { scores, mask } = inputs as { scores: tf.TensorInfo; mask?: tf.TensorInfo };
    const { divisor } = attrs as { divisor: number };
    const b = backend as WasmBackendLike;
    const out = b.makeOutput(scores.shape, 'float32');
    const [batch, heads, tq, tk] = scores.shape as [number, number, number, number];
    const rows = batch * heads * tq;
    // The heap is taken after makeOutput, which may have grown (and so replaced) it.
    if (rows * tk > 0) {
      const heap = b.wasm.HEAPU8.buffer as ArrayBuffer;
      addon.attentionSoftmax(heap, heapOffset(b, scores), mask ? heapOffset(b, mask) : 0, heapOffset(b, out), rows, tk, mask ? heads * tq : 0, divisor);
    }
    return out;
  };
}

export function attentionSoftmaxGradKernel(addon: NativeAddon): Kernel {
  return ({ inputs, backend, attrs }) => {
    const { y, dy } = inputs as { y: tf.TensorInfo; dy: tf.TensorInfo };
    const { divisor } = attrs as { divisor: number };
    const b = backend as WasmBackendLike;
    const out = b.makeOutput(y.shape, 'float32');
    const cols = y.shape[y.shape.length - 1]!;
    const n = tf.util.sizeFromShape(y.shape);
    if (n > 0) addon.attentionSoftmaxGrad(b.wasm.HEAPU8.buffer as ArrayBuffer, heapOffset(b, y), heapOffset(b, dy), heapOffset(b, out), n / cols, cols, divisor);
    return out;
  };
}

/** Gradients are per kernel name, for every backend: registered once, used only where the kernel itself runs. */
export function registerAttentionSoftmaxGradient(): void {
  if (tf.getGradient(ATTENTION_SOFTMAX)) return;
  tf.registerGradient({
    kernelName: ATTENTION_SOFTMAX,
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const y = saved[0]!;
      const grad = (divisor: number) => tf.engine().runKernel(ATTENTION_SOFTMAX_GRAD, { y, dy: dy as tf.Tensor }, { divisor }) as tf.Tensor;
      const { divisor } = attrs as unknown as { divisor: number };
      // The mask is added after the division, so its gradient is the softmax gradient summed over heads and queries.
      return { scores: () => grad(divisor), mask: () => tf.sum(grad(1), [1, 2], true) };
    },
  });
}
