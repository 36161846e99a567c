/**
 * BERT's self-attention core — scores = q·kᵀ, softmax(scores / √d + mask), dropout, probs·v (DistilBERT's:
 * q / √d before the product, no division after) — as one native kernel each way on the wasm backend while
 * the native kernels are installed (native/src/attention.h). It
 * takes the query, key and value projections side by side in one [B, T, 3H] tensor (one product makes them)
 * and gives the context in [B, T, H], reading and writing each head in place: none of the six head
 * transposes, the four batched products, the softmax and the dropout are separate TF.js kernels with their
 * own tape entries, and one head's T × T block stays in cache through all of its steps.
 *
 * Numbers: the same GEMM, softmax and dropout code as the separate kernels, on the same operands in the same
 * order, so the context and the projections' gradient equal the unfused native path's exactly (the dropout
 * mask included, for the same seed). Only the probabilities (before dropout) and the projections are kept
 * for the backward pass.
 */
import { tf } from '../tf';
import type { NativeAddon } from './addon';
import { drop24 } from './dropout';
import { heapOffset, type Kernel, type WasmBackendLike } from './kernels';

export const SELF_ATTENTION = 'PeftStudioSelfAttention';
export const SELF_ATTENTION_GRAD = 'PeftStudioSelfAttentionGrad';

export interface SelfAttentionOptions {
  heads: number;
  /** Scores are divided by it: √head_dim in BERT. */
  divisor: number;
  /** Divide the queries by `divisor` before the product instead of the scores after it (DistilBERT). */
  divideQuery?: boolean;
  /** Dropout on the probabilities: rate 0 for none; seed a non-negative 32-bit integer. */
  dropoutRate: number;
  seed: number;
}

interface Attrs {
  heads: number;
  divisor: number;
  divideQuery: number;
  drop24: number;
  seed: number;
}

/**
 * The attention context [B, T, H] of `qkv` ([B, T, 3H]: query | key | value) through the native kernel
 * where the current backend has it, else undefined (the caller runs the separate ops). mask: HF's extended
 * attention mask [B, 1, 1, T], or none. Differentiable with respect to qkv.
 */
export function nativeSelfAttention(qkv: tf.Tensor3D, mask: tf.Tensor4D | undefined, o: SelfAttentionOptions): tf.Tensor3D | undefined {
  if (qkv.dtype !== 'float32' || qkv.rank !== 3 || !tf.getKernel(SELF_ATTENTION, tf.getBackend())) return undefined;
  const [b, t, width] = qkv.shape;
  const rate = o.dropoutRate > 0 ? drop24(o.dropoutRate) : 0;
  if (!Number.isInteger(o.heads) || o.heads < 1 || width % (3 * o.heads) !== 0 || !(o.divisor > 0) || rate >= 16777216) return undefined;
  // The dropout counter is 32-bit: it numbers every element of the [B, heads, T, T] probabilities.
  if (b * o.heads * t * t > 2 ** 32) return undefined;
  if (mask && (mask.dtype !== 'float32' || !tf.util.arraysEqual(mask.shape, [b, 1, 1, t]))) return undefined;
  const attrs: Attrs = { heads: o.heads, divisor: o.divisor, divideQuery: o.divideQuery ? 1 : 0, drop24: rate, seed: o.seed >>> 0 };
  const f = (qkvIn: tf.Tensor, save: (ts: tf.Tensor[]) => void) => {
    const [context, probs] = tf.engine().runKernel(SELF_ATTENTION, mask ? { qkv: qkvIn, mask } : { qkv: qkvIn }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    save([qkvIn, probs!]);
    return {
      value: context!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(SELF_ATTENTION_GRAD, { qkv: saved[0]!, probs: saved[1]!, dcontext: dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor,
    };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0])(qkv) as tf.Tensor3D;
}

/** [batch, seq, heads, headDim] of a [B, T, 3H] qkv. */
function dims(qkv: tf.TensorInfo, heads: number): [number, number, number, number] {
  const [b, t, width] = qkv.shape as [number, number, number];
  return [b, t, heads, width / 3 / heads];
}

/** Outputs [context [B, T, H], probs [B, heads, T, T]]. */
export function selfAttentionKernel(addon: NativeAddon): Kernel {
  return (({ inputs, backend, attrs }: Parameters<Kernel>[0]) => {
    const { qkv, mask } = inputs as { qkv: tf.TensorInfo; mask?: tf.TensorInfo };
    const a = attrs as unknown as Attrs;
    const [batch, seq, heads, d] = dims(qkv, a.heads);
    const b = backend as WasmBackendLike;
    const context = b.makeOutput([batch, seq, heads * d], 'float32');
    const probs = b.makeOutput([batch, heads, seq, seq], 'float32');
    // The heap is taken after makeOutput, which may have grown (and so replaced) it.
    const heap = b.wasm.HEAPU8.buffer as ArrayBuffer;
    addon.attention(heap, heapOffset(b, qkv), mask ? heapOffset(b, mask) : 0, heapOffset(b, probs), heapOffset(b, context), mask ? 1 : 0, a.divideQuery, batch, seq, heads, d, a.seed, a.drop24, a.divisor);
    return [context, probs];
  }) as unknown as Kernel;
}

/** The gradient of the projections, [B, T, 3H]. */
export function selfAttentionGradKernel(addon: NativeAddon): Kernel {
  return ({ inputs, backend, attrs }) => {
    const { qkv, probs, dcontext } = inputs as { qkv: tf.TensorInfo; probs: tf.TensorInfo; dcontext: tf.TensorInfo };
    const a = attrs as unknown as Attrs;
    const [batch, seq, heads, d] = dims(qkv, a.heads);
    const b = backend as WasmBackendLike;
    const dqkv = b.makeOutput(qkv.shape, 'float32');
    const heap = b.wasm.HEAPU8.buffer as ArrayBuffer;
    addon.attentionGrad(heap, heapOffset(b, qkv), heapOffset(b, probs), heapOffset(b, dcontext), heapOffset(b, dqkv), a.divideQuery, batch, seq, heads, d, a.seed, a.drop24, a.divisor);
    return dqkv;
  };
}

export const SELF_ATTENTION_PREFIX = 'PeftStudioSelfAttentionPrefix';
export const SELF_ATTENTION_PREFIX_GRAD = 'PeftStudioSelfAttentionPrefixGrad';

interface PrefixAttrs extends Attrs {
  prefix: number;
}

/**
 * nativeSelfAttention with prefix keys and values in front of every batch item's own (prefix tuning):
 * `prefix` [P, 2H] (keys | values, already projected, shared by the batch), mask [B, 1, 1, P + T]. Each query
 * attends to the P + T keys. Differentiable with respect to qkv and prefix (its gradient summed over the
 * batch). Undefined where the kernel is not installed or the shapes do not fit it.
 */
export function nativeSelfAttentionPrefix(qkv: tf.Tensor3D, prefix: tf.Tensor2D, mask: tf.Tensor4D | undefined, o: SelfAttentionOptions): tf.Tensor3D | undefined {
  if (qkv.dtype !== 'float32' || prefix.dtype !== 'float32' || qkv.rank !== 3 || prefix.rank !== 2 || !tf.getKernel(SELF_ATTENTION_PREFIX, tf.getBackend())) return undefined;
  const [b, t, width] = qkv.shape;
  const [p, pw] = prefix.shape;
  const rate = o.dropoutRate > 0 ? drop24(o.dropoutRate) : 0;
  if (!Number.isInteger(o.heads) || o.heads < 1 || width % (3 * o.heads) !== 0 || pw * 3 !== width * 2 || p < 1 || !(o.divisor > 0) || rate >= 16777216) return undefined;
  if (b * o.heads * t * (p + t) > 2 ** 32) return undefined;
  if (mask && (mask.dtype !== 'float32' || !tf.util.arraysEqual(mask.shape, [b, 1, 1, p + t]))) return undefined;
  const attrs: PrefixAttrs = { heads: o.heads, divisor: o.divisor, divideQuery: o.divideQuery ? 1 : 0, drop24: rate, seed: o.seed >>> 0, prefix: p };
  const f = (qkvIn: tf.Tensor, prefixIn: tf.Tensor, save: (ts: tf.Tensor[]) => void) => {
    const [context, probs] = tf.engine().runKernel(SELF_ATTENTION_PREFIX, mask ? { qkv: qkvIn, prefix: prefixIn, mask } : { qkv: qkvIn, prefix: prefixIn }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    save([qkvIn, prefixIn, probs!]);
    return {
      value: context!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [dqkv, dprefix] = tf.engine().runKernel(SELF_ATTENTION_PREFIX_GRAD, { qkv: saved[0]!, prefix: saved[1]!, probs: saved[2]!, dcontext: dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
        const summed = tf.sum(dprefix!, 0);
        dprefix!.dispose();
        return [dqkv!, summed];
      },
    };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0])(qkv, prefix) as tf.Tensor3D;
}

/** Outputs [context [B, T, H], probs [B, heads, T, P + T]]. */
export function selfAttentionPrefixKernel(addon: NativeAddon): Kernel {
  return (({ inputs, backend, attrs }: Parameters<Kernel>[0]) => {
    const { qkv, prefix, mask } = inputs as { qkv: tf.TensorInfo; prefix: tf.TensorInfo; mask?: tf.TensorInfo };
    const a = attrs as unknown as PrefixAttrs;
    const [batch, seq, heads, d] = dims(qkv, a.heads);
    const b = backend as WasmBackendLike;
    const context = b.makeOutput([batch, seq, heads * d], 'float32');
    const probs = b.makeOutput([batch, heads, seq, a.prefix + seq], 'float32');
    const heap = b.wasm.HEAPU8.buffer as ArrayBuffer;
    addon.attentionPrefix(heap, heapOffset(b, qkv), heapOffset(b, prefix), mask ? heapOffset(b, mask) : 0, heapOffset(b, probs), heapOffset(b, context), mask ? 1 : 0, a.prefix, a.divideQuery, batch, seq, heads, d, a.seed, a.drop24, a.divisor);
    return [context, probs];
  }) as unknown as Kernel;
}

/** Outputs [dqkv [B, T, 3H], dprefix [B, P, 2H]] (each batch item's share; the caller sums them). */
export function selfAttentionPrefixGradKernel(addon: NativeAddon): Kernel {
  return (({ inputs, backend, attrs }: Parameters<Kernel>[0]) => {
    const { qkv, prefix, probs, dcontext } = inputs as { qkv: tf.TensorInfo; prefix: tf.TensorInfo; probs: tf.TensorInfo; dcontext: tf.TensorInfo };
    const a = attrs as unknown as PrefixAttrs;
    const [batch, seq, heads, d] = dims(qkv, a.heads);
    const b = backend as WasmBackendLike;
    const dqkv = b.makeOutput(qkv.shape, 'float32');
    const dprefix = b.makeOutput([batch, a.prefix, 2 * heads * d], 'float32');
    const heap = b.wasm.HEAPU8.buffer as ArrayBuffer;
    addon.attentionPrefixGrad(heap, heapOffset(b, qkv), heapOffset(b, prefix), heapOffset(b, probs), heapOffset(b, dcontext), heapOffset(b, dqkv), heapOffset(b, dprefix), a.prefix, a.divideQuery, batch, seq, heads, d, a.seed, a.drop24, a.divisor);
    return [dqkv, dprefix];
  }) as unknown as Kernel;
}
