/**
 * DistilBERT's encoder, following HF `modeling_distilbert.py`: no token types, no pooler, q scaled before
 * the product, masked scores filled with float32 min, and LayerNorm eps fixed at 1e-12.
 */
import { tf } from '../backend/tf';
import { PeftStudioError } from '../errors';
import type { EncoderInputs, EncoderOutputs, EncoderRunOptions } from './bert';
import { addAndNorm, extendedAttentionMask, fusedSelfAttention, maskWithVirtual, mergeHeads, splitHeads, stackLayers } from './bert';
import type { EncoderConfig } from './config';
import { NO_HOOKS, type ModelHooks } from './hooks';
import { activation, Dropout, FLOAT32_MIN, layerNorm, linear, type LinearContext } from './layers';
import type { ParamStore } from './params';

/** With a prompt of n virtual tokens (prompt tuning, P-tuning), the prompt rows go in front and positions run over n + T. */
function embeddings(p: ParamStore, c: EncoderConfig, prefix: string, x: EncoderInputs, drop: Dropout, prompt?: tf.Tensor): tf.Tensor3D {
  const [b, t0] = x.inputIds.shape;
  const n = prompt ? prompt.shape[0]! : 0;
  const t = n + t0;
  const positionIds = tf.tile(tf.range(0, t, 1, 'int32').reshape([1, t]), [b, 1]);
  let words = tf.gather(p.get(`${prefix}.word_embeddings.weight`), x.inputIds); // [B, T, H]
  if (prompt) words = tf.concat([tf.broadcastTo(prompt.reshape([1, n, c.hiddenSize]), [b, n, c.hiddenSize]), words], 1);
  const positions = tf.gather(p.get(`${prefix}.position_embeddings.weight`), positionIds);
  const normed = layerNorm(p, `${prefix}.LayerNorm`, tf.add(words, positions), c.layerNormEps);
  return drop.apply(normed, c.hiddenDropoutProb) as tf.Tensor3D;
}

/** Where attention is kept (bool) and, for the fused kernel, the same mask as HF BERT's additive one. */
interface Masks {
  keep: tf.Tensor4D;
  additive: tf.Tensor4D;
}

function attention(p: ParamStore, c: EncoderConfig, prefix: string, hidden: tf.Tensor3D, masks: Masks, drop: Dropout, wantProbs: boolean, hooks: ModelHooks) {
  const ctx: LinearContext = { hooks, drop };
  const out = (context: tf.Tensor3D) => linear(p, `${prefix}.out_lin`, context, ctx) as tf.Tensor3D;
  if (!wantProbs) {
    // Adding float32 min to a score gives float32 min itself (for any score below 1e31): masked_fill's value.
    const context = fusedSelfAttention(p, c, [`${prefix}.q_lin`, `${prefix}.k_lin`, `${prefix}.v_lin`], hidden, masks.additive, drop, true, hooks);
    if (context) return { out: out(context) };
  }
  const keep = masks.keep;
  const n = c.numAttentionHeads;
  const q = tf.div(splitHeads(linear(p, `${prefix}.q_lin`, hidden, ctx), n), Math.sqrt(c.hiddenSize / n));
  const k = splitHeads(linear(p, `${prefix}.k_lin`, hidden, ctx), n);
  const v = splitHeads(linear(p, `${prefix}.v_lin`, hidden, ctx), n);
  const raw = tf.matMul(q, k, false, true); // [B, n, T, T]
  // masked_fill, not an additive mask: masked scores become exactly float32 min.
  const scores = tf.where(tf.broadcastTo(keep, raw.shape), raw, tf.fill(raw.shape, FLOAT32_MIN));
  const probs = tf.softmax(scores) as tf.Tensor4D;
  const context = mergeHeads(tf.matMul(drop.apply(probs, c.attentionProbsDropoutProb), v));
  return { out: out(context), probs };
}

/** HF TransformerBlock: attention → sa_layer_norm(+x) → FFN (lin1 → act → lin2) → output_layer_norm(+sa). */
function transformerBlock(p: ParamStore, c: EncoderConfig, prefix: string, index: number, hidden: tf.Tensor3D, masks: Masks, drop: Dropout, wantProbs: boolean, hooks: ModelHooks) {
  const ctx: LinearContext = { hooks, drop };
  const { out, probs } = attention(p, c, `${prefix}.attention`, hidden, masks, drop, wantProbs, hooks);
  // DistilBERT applies no dropout of its own to the attention output (its out_lin output goes straight in).
  const sa = addAndNorm(p, c, `${prefix}.sa_layer_norm`, out, hidden, hooks, index, 'attention', drop);
  const ff = linear(p, `${prefix}.ffn.lin2`, activation(c.hiddenAct, linear(p, `${prefix}.ffn.lin1`, sa, ctx)), ctx);
  const block = addAndNorm(p, c, `${prefix}.output_layer_norm`, drop.apply(ff, c.hiddenDropoutProb), sa, hooks, index, 'output', drop) as tf.Tensor3D;
  return { out: block, probs };
}

export function distilbertEncoder(
  p: ParamStore,
  c: EncoderConfig,
  base: string,
  x: EncoderInputs,
  opts: EncoderRunOptions,
  drop: Dropout,
  hooks: ModelHooks = NO_HOOKS,
): EncoderOutputs {
  if (hooks.prefixKeyValues || hooks.prefixLength) {
    // HF DistilBERT takes no past_key_values, so PEFT has no prefix tuning for it; never drop a method's term silently.
    throw new PeftStudioError('UNSUPPORTED', 'prefix keys/values (prefix tuning) are not supported on DistilBERT; use prompt-tuning or p-tuning');
  }
  const prompt = hooks.inputPrompt?.(drop);
  const mask2d = maskWithVirtual(x.attentionMask, prompt?.shape[0] ?? 0);
  const [b, t] = mask2d.shape;
  const masks = { keep: tf.cast(mask2d, 'bool').reshape([b, 1, 1, t]) as tf.Tensor4D, additive: extendedAttentionMask(mask2d) };
  const first = embeddings(p, c, `${base}embeddings`, x, drop, prompt);
  const wantProbs = opts.outputAttentions === true;
  return stackLayers(first, c.numHiddenLayers, (i, hidden) => transformerBlock(p, c, `${base}transformer.layer.${i}`, i, hidden, masks, drop, wantProbs, hooks), opts);
}
