/**
 * Micro-batching inside one step: a batch too large for the backend's memory is run as several smaller
 * forward/backward passes whose gradients add up to the whole batch's. Autodiff keeps every intermediate
 * of a pass until its backward ends, so a pass's memory grows with its examples; splitting bounds it while
 * the optimizer still sees the batch the user asked for (unlike gradient_accumulation_steps, which changes
 * nothing about memory per pass and is the user's choice of effective batch).
 */
import { tf } from '../backend/tf';
import type { EncoderConfig } from '../model/config';
import type { TensorBatch } from './batches';

/**
 * Floats a training pass holds per example and layer, per element of a [T, H], a [T, I] and a
 * [heads, T, T] tensor, with each node's saved tensors and upstream gradients freed as soon as the backward
 * pass is past it (engine/backend/eager-release.ts). Fitted to tf.profile's peak bytes of one BitFit pass
 * over the BERT-Tiny shape at T = 128 and BERT-Mini at T = 64, 128 and 256 (the three T separate the
 * attention term), rounded up so estimates err towards smaller passes. The [T, H] and [T, I] shares cannot be
 * told apart on BERT shapes (I = 4H everywhere); their sum is what was measured. `outside` is the
 * embeddings, pooler, head and loss, per element of [T, H] (the same fits).
 */
const STOCK = { th: 40, ti: 4, att: 10, outside: 96 };
/**
 * The same with the native kernels (engine/backend/native): fused GELU, LayerNorm, softmax and dropout keep
 * one tensor where the stock ops keep several, and dropout keeps no mask. Measured the same way: about a
 * quarter of the stock figure (BERT-Mini at T = 128: 15 MiB per example against 48 MiB).
 */
const NATIVE = { th: 5, ti: 2, att: 3, outside: 56 };
/**
 * The native kernels with attention fused (frozen query, key and value: BitFit; see model/bert.ts): per layer only the projections, the probabilities and the sublayers' kept tensors, no
 * per-head copies. Measured as above (BERT-Mini at T = 64, 128, 256: 4.9, 10.4, 22.8 MiB per example, the
 * attention share exactly one float per probability; BERT-Tiny at T = 128: 3.7 MiB), rounded up by 10-25%.
 */
const NATIVE_FUSED_ATTENTION = { th: 7, ti: 1, att: 2, outside: 40 };
/** A transient of the word-embedding table's size that every pass makes once, whatever its examples. */
const EMBEDDING_TABLE_COPIES = 1.1;
/** Training dense weights too keeps each product's input for the weight gradient: 45% more, measured. */
const WEIGHT_GRADIENTS = 1.45;
/**
 * With the native kernels the cost of training dense weights is not a share of the smaller pass: measured,
 * some 40 floats per [T, H] element and layer for each example (the saved inputs of the products) plus about
 * twice the dense weights once per pass (their gradients and a transient copy), whatever the number of examples.
 */
const WEIGHT_GRADIENTS_NATIVE = { th: 44, weights: 2 };

/** Estimated peak bytes of one training pass over `examples` examples of `seqLen` tokens. */
export function passBytes(
  c: EncoderConfig,
  examples: number,
  seqLen: number,
  opts: { trainsWeights?: boolean; nativeKernels?: boolean } = {},
): number {
  const th = seqLen * c.hiddenSize;
  const fusedAttention = opts.nativeKernels && !opts.trainsWeights;
  const k = fusedAttention ? NATIVE_FUSED_ATTENTION : opts.nativeKernels ? NATIVE : STOCK;
  const perLayer = k.th * th + k.ti * seqLen * c.intermediateSize + k.att * c.numAttentionHeads * seqLen * seqLen;
  const floats = examples * (c.numHiddenLayers * perLayer + k.outside * th) + EMBEDDING_TABLE_COPIES * c.vocabSize * c.hiddenSize;
  if (!opts.trainsWeights) return 4 * floats;
  if (!opts.nativeKernels) return 4 * floats * WEIGHT_GRADIENTS;
  // Encoder dense weights and the word embeddings, whose gradient is a dense [vocab, H] table.
  const weights = c.numHiddenLayers * (4 * c.hiddenSize ** 2 + 2 * c.hiddenSize * c.intermediateSize) + c.vocabSize * c.hiddenSize;
  const extra = examples * c.numHiddenLayers * WEIGHT_GRADIENTS_NATIVE.th * th + WEIGHT_GRADIENTS_NATIVE.weights * weights;
  return 4 * (floats + extra);
}

/**
 * What one pass may use by default. Every pass pays per-op overhead (TF.js dispatch and tape, many small
 * elementwise kernels), which dominates once the native matMul kernels make the products cheap: at 32 × 128
 * on 2 cores, BERT-Mini's BitFit step took 855 ms in one pass of 32 and 1150 ms in eleven passes of 3 (a
 * 384 MiB budget). With the native kernels and eager release, 1.5 GiB keeps a BitFit batch of 32 × 128
 * whole on BERT-Tiny, Mini and Small (full fine-tuning: whole, whole and halves), and runs BERT-Base in
 * passes of 16 (about 1.5 GB estimated), so memory stays bounded while the small models keep their speed.
 */
export const PASS_BUDGET_BYTES = 1536 * 2 ** 20;
/** The wasm backend's heap cannot grow past 4 GiB (32-bit wasm memory). */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

/**
 * What stays in backend memory through a step besides the pass itself: the weights, the cached Wᵀ of
 * frozen dense weights (and the stacked query | key | value weights with their transpose), and for each trained tensor its gradient, the running sum of gradients and AdamW's
 * two moments. Computed from shapes, not measured, so a run always splits its batches the same way.
 */
export function residentBytes(params: Iterable<[string, tf.Tensor]>, trainable: Iterable<tf.Tensor>): number {
  let bytes = 0;
  for (const [name, t] of params) {
    const transposed = t.rank === 2 && !(t instanceof tf.Variable) && !name.endsWith('_embeddings.weight');
    // Frozen query / key / value weights are also kept stacked, and the stack transposed (model/bert.ts).
    const stacked = transposed && /\.attention\.(self\.(query|key|value)|q_lin|k_lin|v_lin)\.weight$/.test(name);
    bytes += 4 * t.size * (stacked ? 3 : transposed ? 2 : 1);
  }
  for (const t of trainable) bytes += 4 * t.size * 4;
  return bytes;
}

export interface MemoryContext {
  /** TF.js backend name (`wasm`, `cpu`, `tensorflow`). */
  backend: string;
  residentBytes: number;
  /** Some encoder dense weight is trained (full fine-tuning), not only biases and a head. */
  trainsWeights: boolean;
  /** The native wasm kernels are installed (engine/backend/native): a pass then holds less. */
  nativeKernels: boolean;
}

/**
 * The largest micro-batch whose pass fits: PASS_BUDGET_BYTES, and on wasm also 80% of what the heap leaves
 * after resident tensors. Batches are cut into equal parts (32 with room for 12 runs as 11 + 11 + 10, not
 * 12 + 12 + 8), so no pass is larger than it needs to be. At least 1: a single example that does not fit
 * is the backend's error to report.
 */
export function autoMicroBatchSize(c: EncoderConfig, batchSize: number, seqLen: number, ctx: MemoryContext): number {
  let budget = PASS_BUDGET_BYTES;
  if (ctx.backend === 'wasm') budget = Math.min(budget, (WASM_HEAP_BYTES - ctx.residentBytes) * 0.8);
  // A pass costs a part once (weight gradients) and a part per example.
  const perExample = passBytes(c, 2, seqLen, ctx) - passBytes(c, 1, seqLen, ctx);
  const once = passBytes(c, 1, seqLen, ctx) - perExample;
  const fits = Math.max(1, Math.floor((budget - once) / perExample));
  const parts = Math.ceil(batchSize / fits);
  return Math.ceil(batchSize / parts);
}

/** Row ranges [start, end) cutting `size` rows into the fewest parts of at most `micro` rows, sizes equal ±1. */
export function splitRows(size: number, micro: number): Array<[number, number]> {
  const parts = Math.ceil(size / Math.max(1, micro));
  const ranges: Array<[number, number]> = [];
  for (let p = 0, start = 0; p < parts; p++) {
    const end = start + Math.floor(size / parts) + (p < size % parts ? 1 : 0);
    ranges.push([start, end]);
    start = end;
  }
  return ranges;
}

/**
 * The rows [start, end) of a batch as a batch of their own, cut to their longest example: columns no row
 * of the part attends to are padding for all of them, and a masked key adds exactly zero to attention, so
 * dropping them changes no result but saves their work.
 */
export function sliceBatch(batch: TensorBatch, mask: Int32Array | Uint8Array | Float32Array, start: number, end: number): TensorBatch {
  const seqLen = batch.inputs.inputIds.shape[1];
  let width = 1;
  for (let r = start; r < end; r++) {
    for (let t = seqLen - 1; t >= width; t--) {
      if (mask[r * seqLen + t]) {
        width = t + 1;
        break;
      }
    }
  }
  let tokens = 0;
  for (let i = start * seqLen; i < end * seqLen; i++) tokens += mask[i] ? 1 : 0;
  const rows = end - start;
  const cut = (x: tf.Tensor2D) => tf.slice(x, [start, 0], [rows, width]) as tf.Tensor2D;
  const labels = batch.labels.rank === 1 ? tf.slice(batch.labels, [start], [rows]) : tf.slice(batch.labels, [start, 0], [rows, -1]);
  return {
    inputs: {
      inputIds: cut(batch.inputs.inputIds),
      attentionMask: cut(batch.inputs.attentionMask),
      tokenTypeIds: batch.inputs.tokenTypeIds ? cut(batch.inputs.tokenTypeIds) : undefined,
    },
    labels,
    tokens,
    size: rows,
    indices: batch.indices?.slice(start, end),
  };
}
