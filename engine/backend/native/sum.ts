/**
 * Sum of float32 tensors over leading axes (bias gradients: Σ over [B·T, n] rows) or trailing axes
 * (LayerNorm and softmax gradients) in the addon, multithreaded. The stock wasm kernel transposes the
 * reduced axes to the end first (a full copy) and then sums single-threaded. Other axis sets, dtypes and
 * empty tensors go to the stock kernel.
 */
import { tf } from '../tf';
import type { NativeAddon } from './addon';
import { heapOffset, type Kernel, type WasmBackendLike } from './kernels';

export function nativeSum(addon: NativeAddon, stock: Kernel): Kernel {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = [...tf.util.parseAxisParam(axis, x.shape)].sort((a, b) => a - b);
    const size = tf.util.sizeFromShape(x.shape);
    const leading = axes.every((a, i) => a === i);
    const trailing = axes.every((a, i) => a === rank - axes.length + i);
    if (x.dtype !== 'float32' || size === 0 || axes.length === 0 || (!leading && !trailing)) return stock(args);
    const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const reduced = tf.util.sizeFromShape(axes.map((a) => x.shape[a]!));
    const b = args.backend as WasmBackendLike;
    const out = b.makeOutput(outShape, 'float32');
    // A full reduction counts as trailing: one row, summed with vector partial sums.
    const lead = leading && axes.length < rank;
    const [rows, cols] = lead ? [reduced, size / reduced] : [size / reduced, reduced];
    addon.sum(b.wasm.HEAPU8.buffer as ArrayBuffer, heapOffset(b, x), heapOffset(b, out), rows, cols, lead);
    return out;
  };
}
