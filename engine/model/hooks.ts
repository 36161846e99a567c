/**
 * The places where a PEFT method takes part in the forward pass. The encoders (bert.ts, distilbert.ts) ask
 * these hooks at fixed, named points, so a method adds computation without the model code knowing which
 * method it is, and without replacing modules:
 *
 *   embeddings ── inputPrompt ──▶ layer i: q/k/v ── linearDelta ──▶ attention (+ prefix keys/values)
 *     ──▶ out dense ── sublayerOutput('attention') ──▶ FFN ── sublayerOutput('output') ──▶ … pooler, head
 *
 * Every hook is optional; with none registered the model runs exactly as before (same kernels, same fused
 * fast paths). A fused kernel that cannot include a hook's term is skipped only for the modules that have
 * one (see `hasLinearDelta`), never silently ignored.
 */
import type { tf } from '../backend/tf';
import type { Dropout } from './layers';

/** HF module path of a linear layer, without `.weight`: `bert.encoder.layer.0.attention.self.query`. */
export type ModulePath = string;

/** Where in a layer a sub-layer output hook runs: after the attention output projection, or after the FFN's. */
export type SublayerPlace = 'attention' | 'output';

export interface SublayerOutputArgs {
  layer: number;
  place: SublayerPlace;
  /** The sub-layer's projection after dropout: `dropout(dense(x))`, [B, T, H]. */
  hidden: tf.Tensor;
  /** The sub-layer's input (the residual), [B, T, H]. */
  residual: tf.Tensor;
  /** The module's own (frozen or trained) LayerNorm: `norm(x, r)` = LayerNorm(x + r); `norm(x)` = LayerNorm(x). */
  norm: (x: tf.Tensor, residual?: tf.Tensor) => tf.Tensor;
  drop: Dropout;
}

export interface PrefixKeyValues {
  /** [n, H] prefix keys and values of one layer, in front of the layer's own (already projected). */
  key: tf.Tensor;
  value: tf.Tensor;
}

export interface ModelHooks {
  /**
   * An extra term added to a linear layer's output x·Wᵀ + b (LoRA's scale·B·A·x). Called only for modules
   * for which `hasLinearDelta` is true. x: [..., in] → [..., out].
   */
  linearDelta?(module: ModulePath, x: tf.Tensor, drop: Dropout): tf.Tensor;
  hasLinearDelta?(module: ModulePath): boolean;
  /**
   * Replaces a sub-layer's "add & norm" (bottleneck adapters): returns the module's output given its
   * projection, residual and LayerNorm. Undefined: the plain LayerNorm(hidden + residual).
   */
  sublayerOutput?(args: SublayerOutputArgs): tf.Tensor | undefined;
  /** Virtual-token embeddings [n, H] placed in front of the word embeddings (prompt tuning, P-tuning). */
  inputPrompt?(drop: Dropout): tf.Tensor | undefined;
  /** Rows `inputPrompt` adds, without computing them (they take positions: see limits.ts `maxTokens`). */
  promptLength?(): number;
  /** Per-layer prefix keys/values (prefix tuning, P-tuning v2); called once per layer. */
  prefixKeyValues?(layer: number, drop: Dropout): PrefixKeyValues | undefined;
  /** Virtual tokens that `prefixKeyValues` adds (they shift real tokens' position ids, as PEFT's past_key_values do). */
  prefixLength?(): number;
}

/** No hooks: the plain model. */
export const NO_HOOKS: ModelHooks = Object.freeze({});

/** Whether `module` has a linear-delta hook. */
export function hasDelta(h: ModelHooks, module: ModulePath): boolean {
  return h.linearDelta !== undefined && (h.hasLinearDelta?.(module) ?? false);
}
