/**
 * BERT and RoBERTa encoders, following HF `modeling_bert.py` / `modeling_roberta.py` op for op. RoBERTa is
 * BERT with different position ids (counted from padding_idx + 1, pads keep padding_idx), so one file
 * serves both. Every tensor is looked up by its checkpoint name: `${base}encoder.layer.3.attention.self.query.bias`.
 */
import { nativeAttentionSoftmax } from '../backend/native/attention-softmax';
import { nativeSelfAttention, SELF_ATTENTION } from '../backend/native/self-attention';
import { tf, tidy } from '../backend/tf';
import type { EncoderConfig } from './config';
import { activation, Dropout, FLOAT32_MIN, frozenDense, layerNorm, linear } from './layers';
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
export function robertaPositionIds(inputIds: tf.Tensor2D, paddingIdx: number): tf.Tensor2D {
  const notPad = tf.cast(tf.notEqual(inputIds, paddingIdx), 'int32');
  // An int32 scalar: adding a JS number would promote to float32, which gather refuses as indices.
  return tf.add(tf.mul(tf.cumsum(notPad, 1), notPad), tf.scalar(paddingIdx, 'int32')) as tf.Tensor2D;
}

function embeddings(p: ParamStore, c: EncoderConfig, prefix: string, x: EncoderInputs, drop: Dropout): tf.Tensor3D {
  const [b, t] = x.inputIds.shape;
  const positionIds =
    c.family === 'roberta'
      ? robertaPositionIds(x.inputIds, c.padTokenId)
      : tf.tile(tf.range(0, t, 1, 'int32').reshape([1, t]), [b, 1]);
  const tokenTypeIds = x.tokenTypeIds ?? tf.zeros([b, t], 'int32');
  const words = tf.gather(p.get(`${prefix}.word_embeddings.weight`), x.inputIds); // [B, T, H]
  const types = tf.gather(p.get(`${prefix}.token_type_embeddings.weight`), tokenTypeIds);
  const positions = tf.gather(p.get(`${prefix}.position_embeddings.weight`), positionIds);
  const sum = tf.add(tf.add(words, types), positions);
  return drop.apply(layerNorm(p, `${prefix}.LayerNorm`, sum, c.layerNormEps), c.hiddenDropoutProb) as tf.Tensor3D;
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
): { context: tf.Tensor3D; probs?: tf.Tensor4D } {
  if (!wantProbs) {
    const context = fusedSelfAttention(p, c, [`${prefix}.query`, `${prefix}.key`, `${prefix}.value`], hidden, mask, drop);
    if (context) return { context };
  }
  const n = c.numAttentionHeads;
  const divisor = Math.sqrt(c.hiddenSize / n);
  const q = splitHeads(linear(p, `${prefix}.query`, hidden), n);
  const k = splitHeads(linear(p, `${prefix}.key`, hidden), n);
  const v = splitHeads(linear(p, `${prefix}.value`, hidden), n);
  // HF divides the scores (not q) by sqrt(d_head); in float32 the order matters at the 1e-7 level.
  const raw = tf.matMul(q, k, false, true) as tf.Tensor4D; // [B, n, T, T]
  const probs = nativeAttentionSoftmax(raw, mask, divisor) ?? (tf.softmax(tf.add(tf.div(raw, divisor), mask)) as tf.Tensor4D);
  const context = tf.matMul(drop.apply(probs, c.attentionProbsDropoutProb), v); // [B, n, T, d]
  return { context: mergeHeads(context), probs };
}

/**
 * Self-attention through the native fused kernel (backend/native/self-attention.ts) where it is installed
 * and the three projections (`${prefix}.weight` / `.bias` for each of `projections`: query, key, value) are
 * frozen dense layers (BitFit): one product makes all three, and heads are never split into their own
 * tensors. Undefined otherwise (the caller runs the op-by-op form). BERT divides the scores by √d_head;
 * DistilBERT (`divideQuery`) divides the queries before the product. mask: additive, [B, 1, 1, T].
 */
export function fusedSelfAttention(
  p: ParamStore,
  c: EncoderConfig,
  projections: [string, string, string],
  hidden: tf.Tensor3D,
  mask: tf.Tensor4D,
  drop: Dropout,
  divideQuery = false,
): tf.Tensor3D | undefined {
  if (!tf.getKernel(SELF_ATTENTION, tf.getBackend())) return undefined;
  const stacked = p.frozenStacked(projections.map((m) => `${m}.weight`));
  if (!stacked) return undefined;
  const bias = tf.concat(projections.map((m) => p.get(`${m}.bias`)));
  const qkv = frozenDense(hidden, bias, stacked.w, stacked.wt) as tf.Tensor3D; // [B, T, 3H]
  const heads = c.numAttentionHeads;
  const rate = c.attentionProbsDropoutProb;
  const seed = drop.nextSeed(rate);
  const divisor = Math.sqrt(c.hiddenSize / heads);
  return nativeSelfAttention(qkv, mask, { heads, divisor, divideQuery, dropoutRate: seed === undefined ? 0 : rate, seed: seed ?? 0 });
}

function layer(
  p: ParamStore,
  c: EncoderConfig,
  prefix: string,
  hidden: tf.Tensor3D,
  mask: tf.Tensor4D,
  drop: Dropout,
  wantProbs: boolean,
): { out: tf.Tensor3D; probs?: tf.Tensor4D } {
  const { context, probs } = selfAttention(p, c, `${prefix}.attention.self`, hidden, mask, drop, wantProbs);
  const attnOut = drop.apply(linear(p, `${prefix}.attention.output.dense`, context), c.hiddenDropoutProb);
  const attention = layerNorm(p, `${prefix}.attention.output.LayerNorm`, attnOut, c.layerNormEps, hidden);
  const inter = activation(c.hiddenAct, linear(p, `${prefix}.intermediate.dense`, attention)); // [B, T, I]
  const ffOut = drop.apply(linear(p, `${prefix}.output.dense`, inter), c.hiddenDropoutProb);
  const out = layerNorm(p, `${prefix}.output.LayerNorm`, ffOut, c.layerNormEps, attention) as tf.Tensor3D;
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
): EncoderOutputs {
  const mask = extendedAttentionMask(x.attentionMask);
  const first = embeddings(p, c, `${base}embeddings`, x, drop);
  const wantProbs = opts.outputAttentions === true;
  return stackLayers(first, c.numHiddenLayers, (i, hidden) => layer(p, c, `${base}encoder.layer.${i}`, hidden, mask, drop, wantProbs), opts);
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
export function bertPooler(p: ParamStore, base: string, hidden: tf.Tensor3D): tf.Tensor2D {
  return tf.tanh(linear(p, `${base}pooler.dense`, firstToken(hidden))) as tf.Tensor2D;
}

/** h[:, 0]: the [CLS] / <s> position. [B, T, H] → [B, H]. */
export function firstToken(hidden: tf.Tensor3D): tf.Tensor2D {
  const [b, , h] = hidden.shape;
  return tf.slice(hidden, [0, 0, 0], [b, 1, h]).reshape([b, h]);
}
