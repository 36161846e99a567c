/**
 * An independent float64 forward pass of HF `BertForSequenceClassification`, `RobertaForSequenceClassification`
 * and `DistilBertForSequenceClassification` (and their bare `*Model`s) in eval mode, in plain JS loops.
 *
 * Written from HF transformers 4.30 (modeling_bert.py, modeling_roberta.py, modeling_distilbert.py), NOT
 * from the engine, and sharing no code with it: tests compare the engine against this, so a mistake copied
 * from the engine would hide itself. It reads config.json by HF's own field names for the same reason.
 * Float64 everywhere, so its own rounding error (~1e-15) is negligible next to the 2e-5 tolerance.
 */

/** A weight as stored in the checkpoint (float32 values; widened to float64 here). */
export interface RefWeight {
  shape: number[];
  data: Float32Array | Float64Array;
}

/** The batch, in case.json's names. `position_ids` overrides the family's own rule (for negative tests). */
export interface RefInputs {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids?: number[][] | null;
  position_ids?: number[][];
}

export interface RefOutputs {
  /** [B, num_labels], when the weights hold a classification head. */
  logits?: Float64Array;
  /** Embeddings output (after LayerNorm), then each layer's output; each [B, T, H]. */
  hiddenStates: Float64Array[];
  /** Per layer, the attention probabilities [B, heads, T, T]. */
  attentions: Float64Array[];
  /** [B, H] tanh pooler output, when the weights hold a pooler. */
  pooled?: Float64Array;
  /** The position ids used (RoBERTa's are derived from the input ids). */
  positionIds: number[][];
}

/** torch.finfo(torch.float32).min, the value HF's masks use. */
export const FLOAT32_MIN = -3.4028234663852886e38;

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * erf in float64 to ~1e-15 absolute. For |x| < 2.5 the series erf(x) = 2/√π·e^{−x²}·Σ 2ⁿx^{2n+1}/(2n+1)!!
 * (all terms positive, so no cancellation); beyond, erfc's continued fraction (Laplace), evaluated bottom-up.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  let r: number;
  if (a < 2.5) {
    const x2 = a * a;
    let term = a;
    let sum = a;
    for (let n = 1; n < 500; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  } else {
    r = 1 - erfcLarge(a);
  }
  return x < 0 ? -r : r;
}

/** erfc(x) for x ≥ 2.5: e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))). */
export function erfcLarge(x: number): number {
  if (x > 27) return 0; // below the smallest double
  let t = x;
  for (let k = 200; k >= 1; k--) t = x + k / 2 / t;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / t;
}

function act(name: string, v: number): number {
  switch (name) {
    case 'gelu': // HF GELUActivation: the exact erf form
      return 0.5 * v * (1 + erf(v / Math.SQRT2));
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
    case 'relu':
      return v > 0 ? v : 0;
    default:
      throw new Error(`reference encoder: activation "${name}" not implemented`);
  }
}

type Family = 'bert' | 'roberta' | 'distilbert';

function familyOf(config: Record<string, any>): Family {
  const t = config.model_type;
  if (t === 'bert' || t === 'roberta' || t === 'distilbert') return t;
  throw new Error(`reference encoder: model_type ${JSON.stringify(t)} not handled`);
}

/** x [N, in] · Wᵀ + b, W [out, in] as torch.nn.Linear stores it. */
function linear(x: Float64Array, n: number, inDim: number, w: Float64Array, b: Float64Array): Float64Array {
  const outDim = b.length;
  if (w.length !== outDim * inDim) throw new Error(`reference encoder: linear weight of ${w.length} values, expected ${outDim}×${inDim}`);
  const y = new Float64Array(n * outDim);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = 0;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i]! * w[o * inDim + i]!;
      y[r * outDim + o] = s + b[o]!;
    }
  }
  return y;
}

/** torch.nn.LayerNorm over the last axis: biased variance, eps inside the sqrt. */
function layerNorm(x: Float64Array, h: number, g: Float64Array, b: Float64Array, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / h; r++) {
    let mean = 0;
    for (let i = 0; i < h; i++) mean += x[r * h + i]!;
    mean /= h;
    let v = 0;
    for (let i = 0; i < h; i++) v += (x[r * h + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / h + eps);
    for (let i = 0; i < h; i++) y[r * h + i] = (x[r * h + i]! - mean) * inv * g[i]! + b[i]!;
  }
  return y;
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i]! + b[i]!;
  return y;
}

/** x[:, 0] of a [B, T, H] tensor. */
function firstToken(x: Float64Array, B: number, T: number, H: number): Float64Array {
  const y = new Float64Array(B * H);
  for (let b = 0; b < B; b++) y.set(x.subarray(b * T * H, b * T * H + H), b * H);
  return y;
}

/**
 * Multi-head self-attention. BERT (`scaleQuery` false): (q·kᵀ)/√d + (1 − mask)·f32min. DistilBERT
 * (`scaleQuery` true): (q/√d)·kᵀ, then masked_fill(mask == 0, f32min). Returns context [B,T,H], probs [B,n,T,T].
 */
function attention(
  q: Float64Array, k: Float64Array, v: Float64Array, mask: number[][],
  B: number, T: number, H: number, n: number, scaleQuery: boolean,
): { context: Float64Array; probs: Float64Array } {
  const d = H / n;
  const scale = Math.sqrt(d);
  const context = new Float64Array(B * T * H);
  const probs = new Float64Array(B * n * T * T);
  const row = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < n; h++) {
      for (let i = 0; i < T; i++) {
        let max = -Infinity;
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let e = 0; e < d; e++) {
            const qe = q[(b * T + i) * H + h * d + e]!;
            s += (scaleQuery ? qe / scale : qe) * k[(b * T + j) * H + h * d + e]!;
          }
          const keep = mask[b]![j] !== 0;
          if (scaleQuery) s = keep ? s : FLOAT32_MIN;
          else s = s / scale + (1 - mask[b]![j]!) * FLOAT32_MIN;
          row[j] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let j = 0; j < T; j++) sum += row[j] = Math.exp(row[j]! - max);
        const p = probs.subarray(((b * n + h) * T + i) * T, ((b * n + h) * T + i + 1) * T);
        for (let j = 0; j < T; j++) p[j] = row[j]! / sum;
        for (let e = 0; e < d; e++) {
          let s = 0;
          for (let j = 0; j < T; j++) s += p[j]! * v[(b * T + j) * H + h * d + e]!;
          context[(b * T + i) * H + h * d + e] = s;
        }
      }
    }
  }
  return { context, probs };
}

/** RoBERTa's create_position_ids_from_input_ids: cumsum(ids ≠ pad)·(ids ≠ pad) + pad. */
export function robertaPositionIdsRef(inputIds: number[][], pad: number): number[][] {
  return inputIds.map((row) => {
    let count = 0;
    return row.map((id) => (id !== pad ? ++count + pad : pad));
  });
}

export function referenceForward(config: Record<string, any>, weights: Map<string, RefWeight>, inputs: RefInputs): RefOutputs {
  const family = familyOf(config);
  const distil = family === 'distilbert';
  const H: number = distil ? config.dim : config.hidden_size;
  const L: number = distil ? config.n_layers : config.num_hidden_layers;
  const n: number = distil ? config.n_heads : config.num_attention_heads;
  const actName: string = (distil ? config.activation : config.hidden_act) ?? 'gelu';
  // DistilBERT's LayerNorms hard-code eps=1e-12; BertConfig/RobertaConfig default to 1e-12 too.
  const eps: number = distil ? 1e-12 : config.layer_norm_eps ?? 1e-12;
  const pad: number = config.pad_token_id ?? (family === 'roberta' ? 1 : 0);

  const cache = new Map<string, Float64Array>();
  const w = (name: string): Float64Array => {
    let t = cache.get(name);
    if (!t) {
      const src = weights.get(name);
      if (!src) throw new Error(`reference encoder: weight "${name}" missing`);
      t = Float64Array.from(src.data);
      cache.set(name, t);
    }
    return t;
  };
  // Task checkpoints prefix the encoder with `bert.` etc.; bare *Model checkpoints do not.
  const base = weights.has(`${family}.embeddings.word_embeddings.weight`) ? `${family}.` : '';
  const lin = (name: string, x: Float64Array, rows: number, inDim: number) => linear(x, rows, inDim, w(`${name}.weight`), w(`${name}.bias`));
  const ln = (name: string, x: Float64Array) => layerNorm(x, H, w(`${name}.weight`), w(`${name}.bias`), eps);

  const ids = inputs.input_ids;
  const mask = inputs.attention_mask;
  const B = ids.length;
  const T = ids[0]!.length;
  const N = B * T;
  const positionIds =
    inputs.position_ids ??
    (family === 'roberta' ? robertaPositionIdsRef(ids, pad) : ids.map((row) => row.map((_, t) => t)));

  // Embeddings: word + (token type) + position, LayerNorm. DistilBERT has no token types.
  const emb = new Float64Array(N * H);
  const word = w(`${base}embeddings.word_embeddings.weight`);
  const pos = w(`${base}embeddings.position_embeddings.weight`);
  const type = distil ? undefined : w(`${base}embeddings.token_type_embeddings.weight`);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const id = ids[b]![t]!;
      const p = positionIds[b]![t]!;
      const tt = inputs.token_type_ids?.[b]?.[t] ?? 0; // HF: zeros when not given
      for (let i = 0; i < H; i++) {
        let s = word[id * H + i]!;
        if (type) s += type[tt * H + i]!;
        s += pos[p * H + i]!;
        emb[(b * T + t) * H + i] = s;
      }
    }
  }
  let hidden = ln(`${base}embeddings.LayerNorm`, emb);
  const hiddenStates = [hidden];
  const attentions: Float64Array[] = [];

  for (let l = 0; l < L; l++) {
    if (distil) {
      const pre = `${base}transformer.layer.${l}`;
      const q = lin(`${pre}.attention.q_lin`, hidden, N, H);
      const k = lin(`${pre}.attention.k_lin`, hidden, N, H);
      const v = lin(`${pre}.attention.v_lin`, hidden, N, H);
      const { context, probs } = attention(q, k, v, mask, B, T, H, n, true);
      const sa = ln(`${pre}.sa_layer_norm`, add(lin(`${pre}.attention.out_lin`, context, N, H), hidden));
      const inter = lin(`${pre}.ffn.lin1`, sa, N, H);
      const I = inter.length / N;
      for (let i = 0; i < inter.length; i++) inter[i] = act(actName, inter[i]!);
      hidden = ln(`${pre}.output_layer_norm`, add(lin(`${pre}.ffn.lin2`, inter, N, I), sa));
      attentions.push(probs);
    } else {
      const pre = `${base}encoder.layer.${l}`;
      const q = lin(`${pre}.attention.self.query`, hidden, N, H);
      const k = lin(`${pre}.attention.self.key`, hidden, N, H);
      const v = lin(`${pre}.attention.self.value`, hidden, N, H);
      const { context, probs } = attention(q, k, v, mask, B, T, H, n, false);
      const attn = ln(`${pre}.attention.output.LayerNorm`, add(lin(`${pre}.attention.output.dense`, context, N, H), hidden));
      const inter = lin(`${pre}.intermediate.dense`, attn, N, H);
      const I = inter.length / N;
      for (let i = 0; i < inter.length; i++) inter[i] = act(actName, inter[i]!);
      hidden = ln(`${pre}.output.LayerNorm`, add(lin(`${pre}.output.dense`, inter, N, I), attn));
      attentions.push(probs);
    }
    hiddenStates.push(hidden);
  }

  const cls = firstToken(hidden, B, T, H);
  const out: RefOutputs = { hiddenStates, attentions, positionIds };
  if (weights.has(`${base}pooler.dense.weight`)) out.pooled = lin(`${base}pooler.dense`, cls, B, H).map(Math.tanh);

  if (family === 'bert' && weights.has('classifier.weight')) {
    // BertForSequenceClassification: pooler → dropout (off) → classifier.
    if (!out.pooled) throw new Error('reference encoder: BERT classifier without a pooler');
    out.logits = lin('classifier', out.pooled, B, H);
  } else if (family === 'roberta' && weights.has('classifier.out_proj.weight')) {
    // RobertaClassificationHead on <s>: dense → tanh → out_proj (dropouts off).
    out.logits = lin('classifier.out_proj', lin('classifier.dense', cls, B, H).map(Math.tanh), B, H);
  } else if (family === 'distilbert' && weights.has('classifier.weight')) {
    // DistilBertForSequenceClassification: pre_classifier → ReLU → classifier.
    out.logits = lin('classifier', lin('pre_classifier', cls, B, H).map((v) => (v > 0 ? v : 0)), B, H);
  }
  return out;
}

/** ‖a − b‖₂ / ‖b‖₂. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relL2: length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}
