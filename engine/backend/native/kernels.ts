/**
 * TF.js kernels for the wasm backend that run matrix products in the native addon. The wasm backend sends
 * only untransposed, unbatched products to XNNPACK, single-threaded under Node; batched and transposed ones
 * (all of attention, and most of the backward pass) fall to a scalar loop. These run every layout on all
 * cores, reading and writing the tensors in place in the wasm heap.
 *
 * Each kernel hands what it does not cover (non-float32, general batch broadcasting, PReLU) back to the
 * stock kernel it replaces, so results and error messages there stay the stock ones.
 */
import { tf } from '../tf';
import type { NativeAddon } from './addon';

/** The parts of the wasm backend these kernels use (BackendWasm is not exported as a type by the package). */
export interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
export type Kernel = (args: KernelArgs) => tf.TensorInfo;

/** Codes of native/src/gemm.h's Activation; activations missing here go to the stock kernel. */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, leakyrelu: 3, sigmoid: 4, elu: 5 };

interface Product {
  batch: number;
  m: number;
  n: number;
  k: number;
  /** 0 when that operand's single matrix is broadcast over the batch. */
  strideA: number;
  strideB: number;
  outShape: number[];
}

/** The product a·b (TF.js matMul semantics) in the addon's terms, or undefined when the stock kernel must run it. */
export function planProduct(a: tf.TensorInfo, b: tf.TensorInfo, transA: boolean, transB: boolean): Product | undefined {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const [a1, a2] = a.shape.slice(-2) as [number, number];
  const [b1, b2] = b.shape.slice(-2) as [number, number];
  const [m, k] = transA ? [a2, a1] : [a1, a2];
  const [kB, n] = transB ? [b2, b1] : [b1, b2];
  if (k !== kB) return undefined;
  let outer: number[];
  try {
    outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return undefined;
  }
  const batch = tf.util.sizeFromShape(outer);
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  // One operand may be a single matrix used for every batch item; anything more general (e.g. [2,1]×[1,3])
  // is rare and left to the stock kernel.
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return undefined;
  return { batch, m, n, k, strideA: batchA === 1 ? 0 : m * k, strideB: batchB === 1 ? 0 : k * n, outShape: [...outer, m, n] };
}

/** A tensor's byte offset in the wasm heap. */
export function heapOffset(backend: WasmBackendLike, t: tf.TensorInfo): number {
  const data = backend.dataIdMap.get(t.dataId);
  if (!data) throw new Error('native kernel: tensor data is not on the wasm backend');
  return data.memoryOffset;
}

function run(addon: NativeAddon, backend: WasmBackendLike, a: tf.TensorInfo, b: tf.TensorInfo, p: Product, transA: boolean, transB: boolean, bias: tf.TensorInfo | undefined, act: number, alpha: number): tf.TensorInfo {
  const out = backend.makeOutput(p.outShape, 'float32');
  if (p.batch * p.m * p.n === 0) return out;
  // Taken after makeOutput: its allocation may have grown the wasm memory, which replaces the buffer.
  const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
  const biasOff = bias ? heapOffset(backend, bias) : -1;
  addon.gemm(heap, heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out), p.batch, p.m, p.n, p.k, p.strideA, p.strideB, transA, transB, biasOff, act, alpha);
  return out;
}

export function nativeBatchMatMul(addon: NativeAddon, stock: Kernel): Kernel {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const p = planProduct(a, b, transposeA, transposeB);
    if (!p) return stock(args);
    return run(addon, args.backend as WasmBackendLike, a, b, p, transposeA, transposeB, undefined, 0, 0);
  };
}

export function nativeFusedMatMul(addon: NativeAddon, stock: Kernel): Kernel {
  return (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
    const { transposeA, transposeB, activation, leakyreluAlpha } = args.attrs as { transposeA: boolean; transposeB: boolean; activation: string; leakyreluAlpha?: number };
    const act = ACTIVATIONS[activation];
    const p = planProduct(a, b, transposeA, transposeB);
    // The addon adds a bias of one value per output column ([n], or [1, …, n]); other broadcasts go stock.
    const biasOk = !bias || (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === p?.n && bias.shape[bias.shape.length - 1] === p.n);
    if (!p || act === undefined || preluActivationWeights || !biasOk) return stock(args);
    return run(addon, args.backend as WasmBackendLike, a, b, p, transposeA, transposeB, bias, act, leakyreluAlpha ?? 0);
  };
}
