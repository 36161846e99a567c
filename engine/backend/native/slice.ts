/**
 * Slice for the wasm backend as copies inside the wasm heap. The stock kernel first reads the whole input
 * out of the heap (`readSync` copies it), however little it keeps: taking BERT's [CLS] rows, [B, 1, H] out
 * of a [B, T, H] hidden state, cost 1.25 ms at 32 × 128 × 128, more than a LayerNorm. Here each contiguous
 * run of the slice is one memmove. Pure JS: it needs no addon. Dtypes other than float32 / int32 / bool go to
 * the stock kernel. SplitV (the gradient of every Concat) is the same slices: the stock one calls the stock
 * Slice once per part, reading the whole input out of the heap each time (3 parts of a [32, 128, 384]
 * tensor: 12+ ms; here ~1 ms). Concat, the other way round, is the same runs copied into the output: the
 * stock one makes a typed-array view per run in JavaScript (three [32, 128, 128] parts along the last axis:
 * 12,288 views, 2-20 ms with the garbage they leave).
 */
import { tf } from '../tf';
import type { Kernel, WasmBackendLike } from './kernels';

const BYTES: Partial<Record<tf.DataType, number>> = { float32: 4, int32: 4, bool: 1 };

export function heapSlice(stock: Kernel): Kernel {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const bytes = BYTES[x.dtype];
    if (!bytes || x.shape.length === 0) return stock(args);
    const { begin, size } = args.attrs as { begin: number | number[]; size?: number | number[] };
    const [start, extent] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size);
    tf.slice_util.assertParamsValid(x as unknown as tf.Tensor, start, extent);
    const backend = args.backend as WasmBackendLike;
    const out = backend.makeOutput(extent, x.dtype);
    const total = tf.util.sizeFromShape(extent);
    if (total === 0) return out;
    // Offsets are read after makeOutput: an allocation may grow the heap (the offsets stay valid, views would not).
    const heap = backend.wasm.HEAPU8;
    const src = backend.dataIdMap.get(x.dataId)!.memoryOffset;
    let dst = backend.dataIdMap.get(out.dataId)!.memoryOffset;
    const rank = x.shape.length;
    const strides = tf.util.computeStrides(x.shape); // elements; the last axis has stride 1
    // The innermost axes the slice takes whole, together with the first one it cuts, form one contiguous run.
    let inner = rank - 1;
    while (inner > 0 && extent[inner] === x.shape[inner]) inner--;
    const run = tf.util.sizeFromShape(extent.slice(inner)) * bytes;
    const outerShape = extent.slice(0, inner);
    const outerCount = tf.util.sizeFromShape(outerShape);
    const index = new Array<number>(inner).fill(0);
    for (let n = 0; n < outerCount; n++, dst += run) {
      let from = start[inner]! * (inner < rank - 1 ? strides[inner]! : 1);
      for (let d = 0; d < inner; d++) from += (start[d]! + index[d]!) * strides[d]!;
      heap.copyWithin(dst, src + from * bytes, src + from * bytes + run);
      // Next outer index, last axis fastest.
      for (let d = inner - 1; d >= 0; d--) {
        if (++index[d]! < outerShape[d]!) break;
        index[d] = 0;
      }
    }
    return out;
  };
}

/** SplitV as one in-heap slice per part; what the in-heap Slice declines goes to the stock SplitV whole. */
export function heapSplitV(stock: Kernel): Kernel {
  const slice = heapSlice(() => {
    throw new Error('heapSplitV: unreachable (dtype and rank are checked first)');
  });
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (!BYTES[x.dtype] || x.shape.length === 0) return stock(args);
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number | number[] };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[ax] = s;
      const part = slice({ inputs: { x }, backend: args.backend, attrs: { begin: [...begin], size } });
      begin[ax]! += s;
      return part;
    }) as unknown as tf.TensorInfo;
  };
}

/** Concat as one in-heap copy per contiguous run of each input; other dtypes, and one non-empty input, go stock. */
export function heapConcat(stock: Kernel): Kernel {
  return (args) => {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    const first = inputs[0];
    const bytes = first ? BYTES[first.dtype] : undefined;
    if (!first || !bytes || first.shape.length === 0 || inputs.some((t) => t.dtype !== first.dtype)) return stock(args);
    const axis = tf.util.parseAxisParam((args.attrs as { axis: number | number[] }).axis, first.shape)[0]!;
    const shapes = inputs.map((t) => t.shape);
    tf.backend_util.assertParamsConsistent(shapes, axis);
    const parts = inputs.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
    if (parts.length < 2) return stock(args);
    const backend = args.backend as WasmBackendLike;
    const outShape = tf.backend_util.computeOutShape(shapes, axis);
    const out = backend.makeOutput(outShape, first.dtype);
    // Offsets are read after makeOutput, as in the Slice above.
    const heap = backend.wasm.HEAPU8;
    const outer = tf.util.sizeFromShape(outShape.slice(0, axis));
    const runs = parts.map((t) => tf.util.sizeFromShape(t.shape.slice(axis)) * bytes);
    const srcs = parts.map((t) => backend.dataIdMap.get(t.dataId)!.memoryOffset);
    let dst = backend.dataIdMap.get(out.dataId)!.memoryOffset;
    for (let b = 0; b < outer; b++) {
      for (let i = 0; i < parts.length; i++) {
        const from = srcs[i]! + b * runs[i]!;
        heap.copyWithin(dst, from, from + runs[i]!);
        dst += runs[i]!;
      }
    }
    return out;
  };
}
