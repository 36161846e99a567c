/**
 * GatherV2 for the wasm backend as whole-row copies. The stock wasm kernel computes a strided index for
 * every element, about 5M floats/s here, so the three embedding lookups of a BERT step (4096 rows × H)
 * cost more than some of its matrix products. Here each gathered slice is one memmove inside the wasm heap,
 * made by the addon (one call per gather; a JavaScript loop of copyWithin cost ~0.6 ms per BERT lookup).
 * batchDims > 0 and dtypes other than float32 / int32 / bool go to the stock kernel.
 */
import { tf } from '../tf';
import type { NativeAddon } from './addon';
import type { Kernel, WasmBackendLike } from './kernels';

const BYTES: Partial<Record<tf.DataType, number>> = { float32: 4, int32: 4, bool: 1 };

export function rowGatherV2(addon: NativeAddon, stock: Kernel): Kernel {
  return (args) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as { axis: number; batchDims?: number };
    const bytes = BYTES[x.dtype];
    if (!bytes || (batchDims ?? 0) !== 0 || indices.dtype !== 'int32') return stock(args);
    const backend = args.backend as WasmBackendLike;
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const outer = tf.util.sizeFromShape(x.shape.slice(0, ax));
    const dim = x.shape[ax]!;
    const slice = tf.util.sizeFromShape(x.shape.slice(ax + 1)) * bytes; // bytes per gathered row
    const count = tf.util.sizeFromShape(indices.shape);
    const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
    const ids = new Int32Array(backend.wasm.HEAPU8.buffer, at(indices), count);
    for (let i = 0; i < count; i++) {
      const index = ids[i]!;
      // The stock kernel's check and message: out-of-range ids throw (before any allocation), never read outside x.
      if (!(index <= dim - 1 && index >= 0)) throw new Error(`GatherV2: the index value ${index} is not in [0, ${dim - 1}]`);
    }
    const out = backend.makeOutput([...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)], x.dtype);
    if (outer * count * slice === 0) return out;
    // Offsets, not views: makeOutput may have grown the heap, and the addon takes the heap as it is now.
    addon.gatherRows(backend.wasm.HEAPU8.buffer as ArrayBuffer, at(x), at(indices), at(out), outer, dim, count, slice);
    return out;
  };
}
