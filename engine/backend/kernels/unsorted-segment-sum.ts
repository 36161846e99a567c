/**
 * `UnsortedSegmentSum` for the wasm backend, which @tensorflow/tfjs-backend-wasm 4.22 does not register.
 * It is the gradient of `gather`, so without it no embedding table can be trained on wasm.
 *
 * Written in JS over the wasm heap's typed-array views rather than in C++: one pass that adds each row of x
 * into its segment's row of the output, O(x.size), which is cheap next to the matmuls of the same step.
 * Semantics follow the cpu backend's kernel: out[s] = Σ x[i] over i with segmentIds[i] = s, ids outside
 * [0, numSegments) contribute nothing.
 */
import { tf } from '../tf';

/** The parts of the wasm backend a kernel uses (BackendWasm is not exported as a type by the package). */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function unsortedSegmentSum({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const wasm = backend as WasmBackendLike;
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum (wasm): unsupported dtype ${x.dtype}`);
  // segmentIds covers the leading axes of x; each id owns one row of the remaining axes.
  const rows = tf.util.sizeFromShape(segmentIds.shape);
  const inner = rows === 0 ? 0 : tf.util.sizeFromShape(x.shape) / rows;
  const out = wasm.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
  // Views are taken after makeOutput: an allocation may grow the heap, which detaches older views.
  const dst = wasm.typedArrayFromHeap(out);
  const src = wasm.typedArrayFromHeap(x);
  const ids = wasm.typedArrayFromHeap(segmentIds);
  dst.fill(0); // the heap is reused memory, not zeroed
  for (let r = 0; r < rows; r++) {
    const s = ids[r]!;
    if (s < 0 || s >= numSegments) continue;
    const from = r * inner;
    const to = s * inner;
    for (let j = 0; j < inner; j++) dst[to + j]! += src[from + j]!;
  }
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};

/** The kernels the wasm backend lacks, registered once; a kernel the package already has is left alone. */
export function installWasmKernels(): void {
  for (const config of [unsortedSegmentSumConfig]) {
    if (!tf.getKernel(config.kernelName, config.backendName)) tf.registerKernel(config);
  }
}
