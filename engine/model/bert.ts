/**
 * BERT and RoBERTa encoders, following HF `modeling_bert.py` / `modeling_roberta.py` op for op. RoBERTa is
 * BERT with different position ids (counted from padding_idx + 1, pads keep padding_idx), so one file
 * serves both. Every tensor is looked up by its checkpoint name: `${base}encoder.layer.3.attention.self.query.bias`.
 */
import { nativeAttentionSoftmax } from '../backend/native/attention-softmax';
import { nativeSelfAttention, nativeSelfAttentionPrefix, SELF_ATTENTION, SELF_ATTENTION_PREFIX } from '../backend/native/self-attention';
import { tf, tidy } from '../backend/tf';
import type { EncoderConfig } from './config';
import { hasDelta, NO_HOOKS, type ModelHooks, type PrefixKeyValues, type SublayerPlace } from './hooks';
import { activation, Dropout, FLOAT32_MIN, frozenDense, layerNorm, linear, type LinearContext } from './layers';
import type { ParamStore } from './params';

export interface EncoderInputs {
  inputIds: tf.Tensor2D; // [B, T] int32
  attentionMask: tf.Tensor2D; // [B, T] 1 = token, 0 = padding
  tokenTypeIds?: tf.Tensor2D; // [B, T] int32; zeros when absent, as in HF
}

export interface EncoderRunOptions {
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
}

export interface EncoderOutputs {
  lastHiddenState: tf.Tensor3D; // [B, T, H]
  /** Embeddings output, then each layer's output: L + 1 tensors. */
  hiddenStates?: tf.Tensor3D[];
  /** Attention probabilities per layer: [B, heads, T, T]. */
  attentions?: tf.Tensor4D[];
}

/** HF's `get_extended_attention_mask`: 0 where attended, float32 min where masked. [B,T] → [B,1,1,T]. */
export function extendedAttentionMask(mask: tf.Tensor2D): tf.Tensor4D {
  const [b, t] = mask.shape;
  const inverted = tf.sub(1, tf.cast(mask, 'float32'));
  return tf.mul(inverted, FLOAT32_MIN).reshape([b, 1, 1, t]);
}

/** RoBERTa's `create_position_ids_from_input_ids`: cumsum over non-pad tokens, offset by padding_idx. */
export function robertaPositionIds(inputIds: tf.Tensor2D, paddingIdx: number, pastLength = 0): tf.Tensor2D {
  const notPad = tf.cast(tf.notEqual(inputIds, paddingIdx), 'int32');
  // An int32 scalar: adding a JS number would promote to float32, which gather refuses as indices.
  const counted = pastLength ? tf.add(tf.cumsum(notPad, 1), tf.scalar(pastLength, 'int32')) : tf.cumsum(notPad, 1);
  return tf.add(tf.mul(counted, notPad), tf.scalar(paddingIdx, 'int32')) as tf.Tensor2D;
}

/**
 * What the embeddings see once a method's virtual tokens are in: with a prompt of n tokens (prompt tuning,
 * P-tuning) the n prompt vectors go in front of the words, the mask gets n ones and the token types n zeros
 * in front, and positions run over all n + T rows; with n prefix tokens (prefix tuning) the real tokens'
 * positions start at n (HF's past_key_values_length) and the keys' mask gets n ones in front. PEFT's semantics.
 */
export interface VirtualTokens {
  prompt?: tf.Tensor; // [n, H]
  prefixLength: number;
}

function embeddings(p: ParamStore, c: EncoderConfig, prefix: string, x: EncoderInputs, drop: Dropout, virt: VirtualTokens): tf.Tensor3D {
  const [b, t] = x.inputIds.shape;
  const n = virt.prompt ? virt.prompt.shape[0]! : 0;
  const rows = n + t;
  const offset = virt.prefixLength;
  let positionIds: tf.Tensor;
  if (c.family === 'roberta') {
    // create_position_ids_from_inputs_embeds (a prompt: every row counts) / _from_input_ids (pads keep padding_idx).
    positionIds = virt.prompt
      ? tf.tile(tf.range(c.padTokenId + 1, c.padTokenId + 1 + rows, 1, 'int32').reshape([1, rows]), [b, 1])
      : robertaPositionIds(x.inputIds, c.padTokenId, offset);
  } else {
    positionIds = tf.tile(tf.range(offset, offset + rows, 1, 'int32').reshape([1, rows]), [b, 1]);
  }
  let tokenTypeIds = x.tokenTypeIds ?? tf.zeros([b, t], 'int32');
  let words = tf.gather(p.get(`${prefix}.word_embeddings.weight`), x.inputIds); // [B, T, H]
  if (virt.prompt) {
    const h = c.hiddenSize;
    words = tf.concat([tf.broadcastTo(virt.prompt.reshape([1, n, h]), [b, n, h]), words], 1);
    tokenTypeIds = tf.concat([tf.zeros([b, n], 'int32'), tokenTypeIds], 1);
  }
  const types = tf.gather(p.get(`${prefix}.token_type_embeddings.weight`), tokenTypeIds);
  const positions = tf.gather(p.get(`${prefix}.position_embeddings.weight`), positionIds);
  const sum = tf.add(tf.add(words, types), positions);
  return drop.apply(layerNorm(p, `${prefix}.LayerNorm`, sum, c.layerNormEps), c.hiddenDropoutProb) as tf.Tensor3D;
}

/** The attention mask with `n` attended columns in front (virtual tokens), [B, T] → [B, n + T]. */
export function maskWithVirtual(mask: tf.Tensor2D, n: number): tf.Tensor2D {
  if (n === 0) return mask;
  return tf.concat([tf.ones([mask.shape[0], n], mask.dtype), mask], 1) as tf.Tensor2D;
}

/** [B, T, H] → [B, heads, T, d_head] (HF's `transpose_for_scores`). */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor4D {
  const [b, t, h] = x.shape as [number, number, number];
  return tf.transpose(x.reshape([b, t, heads, h / heads]), [0, 2, 1, 3]) as tf.Tensor4D;
}

/** [B, heads, T, d_head] → [B, T, H]. */
export function mergeHeads(x: tf.Tensor): tf.Tensor3D {
  const [b, n, t, d] = x.shape as [number, number, number, number];
  return tf.transpose(x, [0, 2, 1, 3]).reshape([b, t, n * d]);
}

function selfAttention(
  p: ParamStore,
  c: EncoderConfig,
  prefix: string,
  hidden: tf.Tensor3D,
  mask: tf.Tensor4D,
  drop: Dropout,
  wantProbs: boolean,
  hooks: ModelHooks,
  prefixKV?: PrefixKeyValues,
): { context: tf.Tensor3D; probs?: tf.Tensor4D } {
  if (!wantProbs) {
    const context = fusedSelfAttention(p, c, [`${prefix}.query`, `${prefix}.key`, `${prefix}.value`], hidden, mask, drop, false, hooks, prefixKV);
    if (context) return { context };
  }
  const n = c.numAttentionHeads;
  const ctx: LinearContext = { hooks, drop };
  const q = splitHeads(linear(p, `${prefix}.query`, hidden, ctx), n);
  let k = splitHeads(linear(p, `${prefix}.key`, hidden, ctx), n);
  let v = splitHeads(linear(p, `${prefix}.value`, hidden, ctx), n);
  if (prefixKV) {
    // Prefix keys/values are already projected: they go in front of the layer's own, per head.
    const b = hidden.shape[0];
    k = tf.concat([broadcastHeads(prefixKV.key, b, n), k], 2) as tf.Tensor4D;
    v = tf.concat([broadcastHeads(prefixKV.value, b, n), v], 2) as tf.Tensor4D;
  }
  const divisor = Math.sqrt(c.hiddenSize / n);
  // HF divides the scores (not q) by sqrt(d_head); in float32 the order matters at the 1e-7 level.
  const raw = tf.matMul(q, k, false, true) as tf.Tensor4D; // [B, n, T, T]
  const probs = nativeAttentionSoftmax(raw, mask, divisor) ?? (tf.softmax(tf.add(tf.div(raw, divisor), mask)) as tf.Tensor4D);
  const context = tf.matMul(drop.apply(probs, c.attentionProbsDropoutProb), v); // [B, n, T, d]
  return { context: mergeHeads(context), probs };
}

/** [P, H] prefix rows → [B, heads, P, d_head], the same for every batch item. */
function broadcastHeads(x: tf.Tensor, batch: number, heads: number): tf.Tensor4D {
  const [len, h] = x.shape as [number, number];
  const split = tf.transpose(x.reshape([1, len, heads, h / heads]), [0, 2, 1, 3]);
  return tf.broadcastTo(split, [batch, heads, len, h / heads]) as tf.Tensor4D;
}

/**
 * Self-attention through the native fused kernel (backend/native/self-attention.ts) where it is installed
 * and the three projections (`${prefix}.weight` / `.bias` for each of `projections`: query, key, value) are
 * frozen dense layers (BitFit): one product makes all three, and heads are never split into their own
 * tensors. Undefined otherwise (the caller runs the op-by-op form). BERT divides the scores by √d_head;
 * DistilBERT (`divideQuery`) divides the queries before the product. mask: additive, [B, 1, 1, T]; with a
 * layer's prefix keys/values (prefix tuning) [B, 1, 1, P + T], and the kernel with the prefix runs.
 */
export function fusedSelfAttention(
  p: ParamStore,
  c: EncoderConfig,
  projections: [string, string, string],
  hidden: tf.Tensor3D,
  mask: tf.Tensor4D,
  drop: Dropout,
  divideQuery = false,
  hooks: ModelHooks = NO_HOOKS,
  prefixKV?: PrefixKeyValues,
): tf.Tensor3D | undefined {
  if (!tf.getKernel(prefixKV ? SELF_ATTENTION_PREFIX : SELF_ATTENTION, tf.getBackend())) return undefined;
  const stacked = p.frozenStacked(projections.map((m) => `${m}.weight`));
  if (!stacked) return undefined;
  const bias = tf.concat(projections.map((m) => p.get(`${m}.bias`)));
  let qkv = frozenDense(hidden, bias, stacked.w, stacked.wt) as tf.Tensor3D; // [B, T, 3H]
  if (projections.some((m) => hasDelta(hooks, m))) {
    // A method's extra term on some of q/k/v (LoRA): added to its third of the stacked product, so the
    // frozen weights still run as one product and the attention core stays on the fused kernel.
    const zeros = tf.zerosLike(hidden);
    const parts = projections.map((m) => (hasDelta(hooks, m) ? hooks.linearDelta!(m, hidden, drop) : zeros));
    qkv = tf.add(qkv, tf.concat(parts, 2)) as tf.Tensor3D;
  }
  const heads = c.numAttentionHeads;
  const rate = c.attentionProbsDropoutProb;
  const seed = drop.nextSeed(rate);
  const divisor = Math.sqrt(c.hiddenSize / heads);
  const options = { heads, divisor, divideQuery, dropoutRate: seed === undefined ? 0 : rate, seed: seed ?? 0 };
  if (prefixKV) {
    // Prefix tuning: the layer's prefix keys | values [P, 2H], in front of every item's own inside the kernel.
    const kv = tf.concat([prefixKV.key, prefixKV.value], 1) as tf.Tensor2D;
    return nativeSelfAttentionPrefix(qkv, kv, mask, options);
  }
  return nativeSelfAttention(qkv, mask, options);
}

/**
 * A sub-layer's "add & norm": LayerNorm(hidden + residual), or what a method's sublayerOutput hook makes of
 * it (bottleneck adapters sit here, around the module's own LayerNorm).
 */
export function addAndNorm(
  p: ParamStore,
  c: EncoderConfig,
  lnPrefix: string,
  hidden: tf.Tensor,
  residual: tf.Tensor,
  hooks: ModelHooks,
  layerIndex: number,
  place: SublayerPlace,
  drop: Dropout,
): tf.Tensor {
  if (hooks.sublayerOutput) {
    const norm = (x: tf.Tensor, r?: tf.Tensor) => layerNorm(p, lnPrefix, x, c.layerNormEps, r);
    const out = hooks.sublayerOutput({ layer: layerIndex, place, hidden, residual, norm, drop });
    if (out) return out;
  }
  return layerNorm(p, lnPrefix, hidden, c.layerNormEps, residual);
}

function layer(
  p: ParamStore,
  c: EncoderConfig,
  prefix: string,
  index: number,
  hidden: tf.Tensor3D,
  mask: tf.Tensor4D,
  drop: Dropout,
  wantProbs: boolean,
  hooks: ModelHooks,
): { out: tf.Tensor3D; probs?: tf.Tensor4D } {
  const ctx: LinearContext = { hooks, drop };
  const prefixKV = hooks.prefixKeyValues?.(index, drop);
  const { context, probs } = selfAttention(p, c, `${prefix}.attention.self`, hidden, mask, drop, wantProbs, hooks, prefixKV);
  const attnOut = drop.apply(linear(p, `${prefix}.attention.output.dense`, context, ctx), c.hiddenDropoutProb);
  const attention = addAndNorm(p, c, `${prefix}.attention.output.LayerNorm`, attnOut, hidden, hooks, index, 'attention', drop);
  const inter = activation(c.hiddenAct, linear(p, `${prefix}.intermediate.dense`, attention, ctx)); // [B, T, I]
  const ffOut = drop.apply(linear(p, `${prefix}.output.dense`, inter, ctx), c.hiddenDropoutProb);
  const out = addAndNorm(p, c, `${prefix}.output.LayerNorm`, ffOut, attention, hooks, index, 'output', drop) as tf.Tensor3D;
  return { out, probs };
}

/** BertModel / RobertaModel without the pooler. `base` is `bert.`, `roberta.` or '' for a bare encoder. */
export function bertEncoder(
  p: ParamStore,
  c: EncoderConfig,
  base: string,
  x: EncoderInputs,
  opts: EncoderRunOptions,
  drop: Dropout,
  hooks: ModelHooks = NO_HOOKS,
): EncoderOutputs {
  const prompt = hooks.inputPrompt?.(drop);
  const prefixLength = hooks.prefixLength?.() ?? 0;
  const virtual = (prompt?.shape[0] ?? 0) + prefixLength;
  const mask = extendedAttentionMask(maskWithVirtual(x.attentionMask, virtual));
  const first = embeddings(p, c, `${base}embeddings`, x, drop, { prompt, prefixLength });
  const wantProbs = opts.outputAttentions === true;
  return stackLayers(first, c.numHiddenLayers, (i, hidden) => layer(p, c, `${base}encoder.layer.${i}`, i, hidden, mask, drop, wantProbs, hooks), opts);
}

/** Runs `count` layers from the embeddings output, keeping what HF's `output_hidden_states/attentions` return. */
export function stackLayers(
  first: tf.Tensor3D,
  count: number,
  layerAt: (i: number, hidden: tf.Tensor3D) => { out: tf.Tensor3D; probs?: tf.Tensor4D },
  opts: EncoderRunOptions,
): EncoderOutputs {
  let hidden = first;
  const hiddenStates: tf.Tensor3D[] = [first];
  const attentions: tf.Tensor4D[] = [];
  for (let i = 0; i < count; i++) {
    // One tidy per layer: its temporaries are freed when the layer ends, not when the whole forward does,
    // so a forward pass holds one layer's worth (BERT-Base at batch 64 would otherwise need ~19 GB). Under
    // autodiff the tape keeps what the backward needs regardless.
    const { out, probs } = tidy((): { out: tf.Tensor3D; probs?: tf.Tensor4D } => {
      const r = layerAt(i, hidden);
      return opts.outputAttentions ? r : { out: r.out };
    });
    hidden = out;
    hiddenStates.push(out);
    if (probs) attentions.push(probs);
  }
  return {
    lastHiddenState: hidden,
    hiddenStates: opts.outputHiddenStates ? hiddenStates : undefined,
    attentions: opts.outputAttentions ? attentions : undefined,
  };
}

/** HF BertPooler: tanh(dense(h[:, 0])). [B, T, H] → [B, H]. */
export function bertPooler(p: ParamStore, base: string, hidden: tf.Tensor3D, ctx?: LinearContext): tf.Tensor2D {
  return tf.tanh(linear(p, `${base}pooler.dense`, firstToken(hidden), ctx)) as tf.Tensor2D;
}

/** h[:, 0]: the [CLS] / <s> position. [B, T, H] → [B, H]. */
export function firstToken(hidden: tf.Tensor3D): tf.Tensor2D {
  const [b, , h] = hidden.shape;
  return tf.slice(hidden, [0, 0, 0], [b, 1, h]).reshape([b, h]);
}
