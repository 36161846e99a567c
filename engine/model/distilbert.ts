/**
 * DistilBERT's encoder, following HF `modeling_distilbert.py`: no token types, no pooler, q scaled before
 * the product, masked scores filled with float32 min, and LayerNorm eps fixed at 1e-12.
 */
import { tf } from '../backend/tf';
import type { EncoderInputs, EncoderOutputs, EncoderRunOptions } from './bert';
import { extendedAttentionMask, fusedSelfAttention, mergeHeads, splitHeads, stackLayers } from './bert';
import type { EncoderConfig } from './config';
import { activation, Dropout, FLOAT32_MIN, layerNorm, linear } from './layers';
import type { ParamStore } from './params';

function embeddings(p: ParamStore, c: EncoderConfig, prefix: string, x: EncoderInputs, drop: Dropout): tf.Tensor3D {
  const [b, t] = x.inputIds.shape;
  const positionIds = tf.tile(tf.range(0, t, 1, 'int32').reshape([1, t]), [b, 1]);
  const words = tf.gather(p.get(`${prefix}.word_embeddings.weight`), x.inputIds); // [B, T, H]
  const positions = tf.gather(p.get(`${prefix}.position_embeddings.weight`), positionIds);
  const normed = layerNorm(p, `${prefix}.LayerNorm`, tf.add(words, positions), c.layerNormEps);
  return drop.apply(normed, c.hiddenDropoutProb) as tf.Tensor3D;
}

/** Where attention is kept (bool) and, for the fused kernel, the same mask as HF BERT's additive one. */
interface Masks {
  keep: tf.Tensor4D;
  additive: tf.Tensor4D;
}

function attention(p: ParamStore, c: EncoderConfig, prefix: string, hidden: tf.Tensor3D, masks: Masks, drop: Dropout, wantProbs: boolean) {
  const out = (context: tf.Tensor3D) => linear(p, `${prefix}.out_lin`, context) as tf.Tensor3D;
  if (!wantProbs) {
    // Adding float32 min to a score gives float32 min itself (for any score below 1e31): masked_fill's value.
    const context = fusedSelfAttention(p, c, [`${prefix}.q_lin`, `${prefix}.k_lin`, `${prefix}.v_lin`], hidden, masks.additive, drop, true);
    if (context) return { out: out(context) };
  }
  const keep = masks.keep;
  const n = c.numAttentionHeads;
  const q = tf.div(splitHeads(linear(p, `${prefix}.q_lin`, hidden), n), Math.sqrt(c.hiddenSize / n));
  const k = splitHeads(linear(p, `${prefix}.k_lin`, hidden), n);
  const v = splitHeads(linear(p, `${prefix}.v_lin`, hidden), n);
  const raw = tf.matMul(q, k, false, true); // [B, n, T, T]
  // masked_fill, not an additive mask: masked scores become exactly float32 min.
  const scores = tf.where(tf.broadcastTo(keep, raw.shape), raw, tf.fill(raw.shape, FLOAT32_MIN));
  const probs = tf.softmax(scores) as tf.Tensor4D;
  const context = mergeHeads(tf.matMul(drop.apply(probs, c.attentionProbsDropoutProb), v));
  return { out: out(context), probs };
}

/** HF TransformerBlock: attention → sa_layer_norm(+x) → FFN (lin1 → act → lin2) → output_layer_norm(+sa). */
function transformerBlock(p: ParamStore, c: EncoderConfig, prefix: string, hidden: tf.Tensor3D, masks: Masks, drop: Dropout, wantProbs: boolean) {
  const { out, probs } = attention(p, c, `${prefix}.attention`, hidden, masks, drop, wantProbs);
  const sa = layerNorm(p, `${prefix}.sa_layer_norm`, out, c.layerNormEps, hidden);
  const ff = linear(p, `${prefix}.ffn.lin2`, activation(c.hiddenAct, linear(p, `${prefix}.ffn.lin1`, sa)));
  const block = layerNorm(p, `${prefix}.output_layer_norm`, drop.apply(ff, c.hiddenDropoutProb), c.layerNormEps, sa) as tf.Tensor3D;
  return { out: block, probs };
}

export function distilbertEncoder(
  p: ParamStore,
  c: EncoderConfig,
  base: string,
  x: EncoderInputs,
  opts: EncoderRunOptions,
  drop: Dropout,
): EncoderOutputs {
  const [b, t] = x.attentionMask.shape;
  const masks = { keep: tf.cast(x.attentionMask, 'bool').reshape([b, 1, 1, t]) as tf.Tensor4D, additive: extendedAttentionMask(x.attentionMask) };
  const first = embeddings(p, c, `${base}embeddings`, x, drop);
  const wantProbs = opts.outputAttentions === true;
  return stackLayers(first, c.numHiddenLayers, (i, hidden) => transformerBlock(p, c, `${base}transformer.layer.${i}`, hidden, masks, drop, wantProbs), opts);
}
