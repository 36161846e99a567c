/**
 * The few building blocks every encoder here is made of, written to reproduce PyTorch's float32 results:
 * same op order, same constants. Each takes the ParamStore and the HF module prefix, so a call reads like
 * the HF module it mirrors: `linear(p, 'bert.pooler.dense', x)`.
 */
import { nativeDropout } from '../backend/native/dropout';
import { nativeGelu } from '../backend/native/gelu';
import { nativeLayerNorm } from '../backend/native/layernorm';
import { tf } from '../backend/tf';
import type { HiddenAct } from './config';
import { hasDelta, type ModelHooks } from './hooks';
import type { ParamStore } from './params';

/** The hooks of the pass and its dropout, for a linear layer that a method may extend (LoRA). */
export interface LinearContext {
  hooks: ModelHooks;
  drop: Dropout;
}

/**
 * torch.nn.Linear: x·Wᵀ + b with W stored [out, in] as in the checkpoint. x: [..., in] → [..., out].
 * With a linear-delta hook on this module (LoRA), its term is added after, as PEFT adds it: (x·Wᵀ + b) + Δ(x).
 */
export function linear(p: ParamStore, prefix: string, x: tf.Tensor, ctx?: LinearContext): tf.Tensor {
  const y = plainLinear(p, prefix, x);
  return ctx && hasDelta(ctx.hooks, prefix) ? tf.add(y, ctx.hooks.linearDelta!(prefix, x, ctx.drop)) : y;
}

function plainLinear(p: ParamStore, prefix: string, x: tf.Tensor): tf.Tensor {
  const w = p.get(`${prefix}.weight`); // [out, in]
  const b = p.get(`${prefix}.bias`); // [out]
  const wt = p.frozenTransposed(`${prefix}.weight`); // [in, out], only when W is frozen
  if (wt) return frozenDense(x, b, w, wt);
  const inDim = x.shape[x.shape.length - 1]!;
  const y = tf.add(tf.matMul(x.reshape([-1, inDim]), w, false, true), b); // [N, out]
  return y.reshape([...x.shape.slice(0, -1), w.shape[0]!]);
}

/**
 * x·Wᵀ + b for a frozen W with a hand-written gradient: only dx = dy·W and db = Σdy. Both products are
 * plain (untransposed) matMuls, which every backend runs on its fast path, and no weight gradient is ever
 * formed — the frozen W is a constant here, not an input. Nothing is saved for the backward pass: the
 * reshapes to and from [N, in] happen inside, off the tape (a taped Reshape would keep x alive for its shape).
 */
export function frozenDense(x: tf.Tensor, b: tf.Tensor, w: tf.Tensor, wt: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.rank - 1]!;
  const outDim = w.shape[0]!;
  const lead = x.shape.slice(0, -1);
  const f = (xIn: tf.Tensor, bIn: tf.Tensor) => ({
    // One fused product-plus-bias kernel instead of two passes over the output (same sum, same rounding).
    value: tf.fused.matMul({ a: xIn.reshape([-1, inDim]), b: wt, bias: bIn }).reshape([...lead, outDim]),
    gradFunc: (dy: tf.Tensor) => {
      const dy2 = dy.reshape([-1, outDim]);
      return [tf.matMul(dy2, w).reshape(x.shape), tf.sum(dy2, 0)];
    },
  });
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0])(x, b);
}

/**
 * torch.nn.LayerNorm over the last axis: biased variance, eps inside the square root. With `residual`,
 * LayerNorm(x + residual), BERT's "add & norm".
 */
export function layerNorm(p: ParamStore, prefix: string, x: tf.Tensor, eps: number, residual?: tf.Tensor): tf.Tensor {
  // One fused native kernel each way where the wasm backend has the native kernels; same formula.
  const fused = nativeLayerNorm(x, p.get(`${prefix}.weight`), p.get(`${prefix}.bias`), eps, residual);
  if (fused) return fused;
  if (residual) x = tf.add(x, residual);
  const axis = x.rank - 1;
  const mean = tf.mean(x, axis, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), axis, true);
  const normed = tf.mul(centered, tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(normed, p.get(`${prefix}.weight`)), p.get(`${prefix}.bias`));
}

const SQRT_HALF = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** HF's ACT2FN. `gelu` is the exact erf form; the tanh form is 2e-4 off in logits, so never mix them. */
export function activation(name: HiddenAct, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'gelu':
      // One fused native kernel each way where the wasm backend has the native kernels; same formula.
      return nativeGelu(x) ?? tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, SQRT_HALF)), 1));
    case 'gelu_new':
    case 'gelu_pytorch_tanh': {
      const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI);
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
    }
    case 'relu':
      return tf.relu(x);
    case 'silu':
      return tf.mul(x, tf.sigmoid(x));
    case 'tanh':
      return tf.tanh(x);
  }
}

/**
 * Dropout that is reproducible: every call in one forward pass draws from its own seed, derived from the
 * step's seed and the call's position, so a resumed run replays the same masks as an uninterrupted one.
 */
export class Dropout {
  private calls = 0;
  constructor(
    readonly training: boolean,
    private readonly seed: number,
  ) {}

  apply(x: tf.Tensor, rate: number): tf.Tensor {
    const seed = this.nextSeed(rate);
    if (seed === undefined) return x;
    // The native kernel where installed: stock tf.dropout draws its uniforms one by one in JavaScript.
    return nativeDropout(x, rate, seed) ?? tf.dropout(x, rate, undefined, seed);
  }

  /** The seed of the next dropout at `rate`, for a fused kernel that drops out itself; undefined: no dropout. */
  nextSeed(rate: number): number | undefined {
    if (!this.training || rate <= 0) return undefined;
    this.calls += 1;
    return (this.seed * 7919 + this.calls * 104729) % 2147483647;
  }
}

/** float32's most negative finite value: HF adds it at masked keys (`torch.finfo(dtype).min`). */
export const FLOAT32_MIN = -3.4028234663852886e38;
