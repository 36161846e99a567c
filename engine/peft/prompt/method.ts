/**
 * The prompt family with HF PEFT 0.5's semantics (see ../shared/fixtures/peft-tiny/README.md):
 *  - prompt tuning: a trainable [n, H] prompt in front of the word embeddings (positions 0…n−1, token type 0,
 *    mask 1); the pooler and classifier then read sequence row 0, the first virtual token;
 *  - P-tuning: the same place, the prompt made by an MLP from [n, H] embeddings;
 *  - prefix tuning (and P-tuning v2): [n, 2·L·H] prefixes, per layer l keys = columns 2l·H…(2l+1)·H and values
 *    the next H, put in front of that layer's projected keys/values; real tokens' positions start at n.
 * The classifier trains too (PEFT's modules_to_save for sequence classification). PEFT's file holds only the
 * prompt encoder's output (`prompt_embeddings`); `trainable_init.safetensors` holds the encoder itself.
 */
import { tf } from '../../backend/tf';
import { mulberry32, type Rng } from '../../data/rng';
import { PeftStudioError } from '../../errors';
import type { ModelHooks, PrefixKeyValues } from '../../model/hooks';
import { maxTokens } from '../../model/limits';
import type { EncoderModel } from '../../model/model';
import type { ChangeCell, ChangeEvent } from '../../protocol/events';
import type { Tokenizer } from '../../tokenizer/types';
import { ADAPTER_WEIGHTS, writeAdapterFiles } from '../adapter-files';
import { MethodBase } from '../base';
import type { AdapterExport, AdapterExportContext, ApplyContext, ChangeLayout, HostTensors, MethodInfo, MethodSpec } from '../types';
import { P_TUNING_INFO, P_TUNING_V2_INFO, PREFIX_TUNING_INFO, PROMPT_TUNING_INFO, type PromptSettings } from './config';
import { nearestTokens, type NearestToken } from './nearest';

export const PROMPT_MEASURE = '‖Δp‖ / ‖p₀‖ per virtual token';
export const PREFIX_MEASURE = '‖Δ[k;v]‖ / ‖[k₀;v₀]‖ per layer and virtual token';
/** The key PEFT saves the prompt encoder's output under. */
export const PROMPT_EMBEDDINGS = 'prompt_embeddings';
const ENCODER = 'prompt_encoder.';
const EMBEDDING = `${ENCODER}embedding.weight`;
/** PEFT's prefix of the classifier copy in a prompt-learning adapter file (no `.model`). */
export const PEFT_HEAD_PREFIX = 'base_model.';

const INFO_OF: Record<PromptSettings['method'], MethodInfo> = {
  'prompt-tuning': PROMPT_TUNING_INFO,
  'p-tuning': P_TUNING_INFO,
  'prefix-tuning': PREFIX_TUNING_INFO,
  'p-tuning-v2': P_TUNING_V2_INFO,
};

export class PromptMethod extends MethodBase {
  readonly info: MethodInfo;
  private hidden = 0;
  private layers = 0;
  private heads = 0;
  /** Width of the output rows: H for prompts, 2·L·H for prefixes. */
  private outDim = 0;
  private encoderHidden = 0;
  private tokenizer?: Tokenizer;
  /** The output at the start of the what-moved measure, [n, outDim]. */
  private start?: Float32Array;
  private startNearest?: NearestToken[][];
  /**
   * Training the saved output itself: an adapter file from PEFT holds only the prompt encoder's output, so
   * a run continued from it trains that tensor directly (the encoder's weights are not in the file).
   */
  private direct = false;

  constructor(
    readonly settings: PromptSettings,
    spec: MethodSpec,
  ) {
    super(spec);
    this.info = INFO_OF[settings.method];
  }

  get numVirtualTokens(): number {
    return this.settings.numVirtualTokens;
  }

  /** Whether the method trains the saved output directly (an adapter read without its encoder). */
  get trainsOutputDirectly(): boolean {
    return this.direct;
  }

  protected setup(model: EncoderModel, ctx: ApplyContext): void {
    const s = this.settings;
    const c = model.config;
    const n = s.numVirtualTokens;
    const title = `method ${s.method}`;
    if (!Number.isInteger(n) || n <= 0) throw new PeftStudioError('BAD_INPUT', `${title}: num_virtual_tokens must be a positive integer, got ${n}`);
    if (s.kind === 'prefix' && c.family === 'distilbert') {
      throw new PeftStudioError('UNSUPPORTED', `${title}: prefix tuning is not supported on DistilBERT (PEFT passes the prefix as past_key_values, which DistilBERT does not take); use prompt-tuning or p-tuning, or a BERT/RoBERTa model`);
    }
    const limit = maxTokens(model);
    if (n >= limit) throw new PeftStudioError('BAD_INPUT', `${title}: num_virtual_tokens ${n} leaves no position for the text: the model has ${limit} positions`);
    if (ctx.maxLength !== undefined && n + ctx.maxLength > limit) {
      const over = n + ctx.maxLength - limit;
      throw new PeftStudioError(
        'BAD_INPUT',
        `${title}: num_virtual_tokens ${n} + max_length ${ctx.maxLength} = ${n + ctx.maxLength} exceeds the model's ${limit} positions by ${over}; lower max_length to ${limit - n} or num_virtual_tokens to ${limit - ctx.maxLength}`,
      );
    }
    this.hidden = c.hiddenSize;
    this.layers = c.numHiddenLayers;
    this.heads = c.numAttentionHeads;
    this.outDim = s.kind === 'prefix' ? 2 * this.layers * this.hidden : this.hidden;
    this.encoderHidden = s.encoderHiddenSize ?? this.hidden;
    this.tokenizer = ctx.tokenizer;
    const H = this.hidden;
    const hid = this.encoderHidden;
    const rng = mulberry32(ctx.seed ^ 0x9e0417);
    if (s.kind === 'prompt') {
      // Without a tokenizer (a run or adapter being rebuilt, whose saved values replace these) TEXT starts random.
      if (s.init === 'TEXT' && !ctx.tokenizer && ctx.training !== false) ctx.notices.push(`${this.info.title}: no tokenizer here, so the prompt starts random instead of from the init text (saved values replace it)`);
      const init = s.init === 'TEXT' && ctx.tokenizer ? this.textInit(model, ctx) : normal(rng, [n, H]);
      this.addTrainable(EMBEDDING, init, s.init === 'TEXT' ? 'prompt (from the init text)' : 'prompt');
    } else if (s.kind === 'p-tuning') {
      this.addTrainable(EMBEDDING, normal(rng, [n, H]), 'prompt encoder input');
      this.addTrainable(`${ENCODER}mlp_head.0.weight`, linearWeight(rng, hid, H), 'prompt encoder MLP');
      this.addTrainable(`${ENCODER}mlp_head.0.bias`, linearBias(rng, hid, H), 'prompt encoder MLP');
      this.addTrainable(`${ENCODER}mlp_head.2.weight`, linearWeight(rng, hid, hid), 'prompt encoder MLP');
      this.addTrainable(`${ENCODER}mlp_head.2.bias`, linearBias(rng, hid, hid), 'prompt encoder MLP');
      this.addTrainable(`${ENCODER}mlp_head.4.weight`, linearWeight(rng, H, hid), 'prompt encoder MLP');
      this.addTrainable(`${ENCODER}mlp_head.4.bias`, linearBias(rng, H, hid), 'prompt encoder MLP');
    } else if (s.prefixProjection) {
      this.addTrainable(EMBEDDING, normal(rng, [n, H]), 'prefix encoder input');
      this.addTrainable(`${ENCODER}transform.0.weight`, linearWeight(rng, hid, H), 'prefix projection');
      this.addTrainable(`${ENCODER}transform.0.bias`, linearBias(rng, hid, H), 'prefix projection');
      this.addTrainable(`${ENCODER}transform.2.weight`, linearWeight(rng, this.outDim, hid), 'prefix projection');
      this.addTrainable(`${ENCODER}transform.2.bias`, linearBias(rng, this.outDim, hid), 'prefix projection');
    } else {
      this.addTrainable(EMBEDDING, normal(rng, [n, this.outDim]), 'prefix keys/values');
    }
    // PEFT's modules_to_save for sequence classification: the classifier (not DistilBERT's pre_classifier).
    for (const name of model.params.names()) if (name.startsWith('classifier.')) this.trainExisting(name, 'modules_to_save');
    this.start = this.outputHost();
    ctx.notices.push(
      s.kind === 'prefix'
        ? `${this.info.title}: ${n} virtual tokens of keys/values in each of ${this.layers} layers${s.prefixProjection ? ` (projection width ${hid})` : ''}; real tokens' positions start at ${n}`
        : `${this.info.title}: ${n} virtual tokens in front of the input${s.kind === 'p-tuning' ? ` (MLP prompt encoder, width ${hid})` : ''}; the pooler and classifier read the first virtual token, as PEFT does`,
    );
  }

  /** PEFT's TEXT init: `tokenizer(text)["input_ids"]` (special tokens included), repeated or cut to n rows. */
  private textInit(model: EncoderModel, ctx: ApplyContext): tf.Tensor {
    const text = this.settings.initText ?? '';
    const tok = ctx.tokenizer!;
    if (tok.tokenize(text).length === 0) throw new PeftStudioError('BAD_INPUT', `method prompt-tuning: prompt_tuning_init_text ${JSON.stringify(text)} tokenizes to no tokens; give a text with words in it`);
    let ids = tok.encode(text).inputIds;
    const n = this.settings.numVirtualTokens;
    if (ids.length < n) ids = Array.from({ length: Math.ceil(n / ids.length) }, () => ids).flat();
    ids = ids.slice(0, n);
    const words = model.params.get(`${model.basePrefix}embeddings.word_embeddings.weight`);
    return tf.tidy(() => tf.gather(words, tf.tensor1d(ids, 'int32')));
  }

  protected override hooks(): ModelHooks {
    const n = this.settings.numVirtualTokens;
    if (this.settings.kind !== 'prefix') return { inputPrompt: () => this.output(), promptLength: () => n };
    return { prefixLength: () => n, prefixKeyValues: (layer) => this.prefixOf(layer) };
  }

  /** The prompt encoder's output, [n, outDim]: what PEFT saves as `prompt_embeddings`. */
  output(): tf.Tensor {
    const v = this.vars;
    if (this.direct) return v.get(PROMPT_EMBEDDINGS)!;
    const e = v.get(EMBEDDING)!;
    const lin = (x: tf.Tensor, m: string) => tf.add(tf.matMul(x, v.get(`${ENCODER}${m}.weight`)!, false, true), v.get(`${ENCODER}${m}.bias`)!);
    if (this.settings.kind === 'p-tuning') return lin(tf.relu(lin(tf.relu(lin(e, 'mlp_head.0')), 'mlp_head.2')), 'mlp_head.4');
    if (this.settings.prefixProjection) return lin(tf.tanh(lin(e, 'transform.0')), 'transform.2');
    return e;
  }

  /**
   * Layer l's prefix: keys = columns 2l·H…(2l+1)·H of the output, values the next H (PEFT's [k0 v0 k1 v1 …]).
   * With a projection only that layer's rows of the last linear layer run (the same sums, 1/L of the work).
   */
  private prefixOf(layer: number): PrefixKeyValues {
    const H = this.hidden;
    const n = this.settings.numVirtualTokens;
    const part = (offset: number): tf.Tensor => {
      if (this.direct || !this.settings.prefixProjection) return tf.slice(this.output(), [0, offset], [n, H]);
      const v = this.vars;
      const hidden = tf.tanh(tf.add(tf.matMul(v.get(EMBEDDING)!, v.get(`${ENCODER}transform.0.weight`)!, false, true), v.get(`${ENCODER}transform.0.bias`)!));
      const w = tf.slice(v.get(`${ENCODER}transform.2.weight`)!, [offset, 0], [H, this.encoderHidden]);
      return tf.add(tf.matMul(hidden, w, false, true), tf.slice(v.get(`${ENCODER}transform.2.bias`)!, [offset], [H]));
    };
    return { key: part(2 * layer * H), value: part((2 * layer + 1) * H) };
  }

  private outputHost(): Float32Array {
    const t = tf.tidy(() => tf.clone(this.output()));
    const data = t.dataSync() as Float32Array;
    t.dispose();
    return data.slice();
  }

  // ─── what moved ───────────────────────────────────────────────────────────────────────────────

  changeLayout(): ChangeLayout {
    const columns = Array.from({ length: this.settings.numVirtualTokens }, (_, i) => `v${i}`);
    if (this.settings.kind === 'prefix') return { rows: Array.from({ length: this.layers }, (_, i) => `layer.${i}`), columns, measure: PREFIX_MEASURE };
    return { rows: ['prompt'], columns, measure: PROMPT_MEASURE };
  }

  override async markStart(): Promise<void> {
    this.start = this.outputHost();
    this.startNearest = undefined;
  }

  async changeReport(step: number, topK: number): Promise<ChangeEvent> {
    const now = this.outputHost();
    const start = this.start ?? now;
    const n = this.settings.numVirtualTokens;
    const D = this.outDim;
    const cells: ChangeCell[] = [];
    if (this.settings.kind !== 'prefix') {
      if (!this.startNearest) this.startNearest = this.nearest(start, 5);
      const nowNearest = this.nearest(now, 5);
      for (let i = 0; i < n; i++) {
        const delta = Array.from({ length: D }, (_, j) => now[i * D + j]! - start[i * D + j]!);
        const base = norm(start.subarray(i * D, (i + 1) * D));
        const dn = norm(delta);
        const relative = base > 0 ? dn / base : null;
        const top = topByAbs(delta, topK);
        cells.push({
          name: this.direct ? PROMPT_EMBEDDINGS : EMBEDDING,
          row: 'prompt',
          kind: `v${i}`,
          value: relative ?? dn,
          relative,
          top,
          details: [
            { title: 'nearest vocabulary tokens now (cosine)', items: nowNearest[i]!.map((t) => ({ label: t.token, value: t.cosine })) },
            { title: 'nearest vocabulary tokens at the start (cosine)', items: this.startNearest[i]!.map((t) => ({ label: t.token, value: t.cosine })) },
            { title: 'size', items: [{ label: '‖Δp‖', value: dn }, { label: '‖p₀‖', value: base }, { label: '‖p‖', value: norm(now.subarray(i * D, (i + 1) * D)) }] },
          ],
        });
      }
      return { v: 1, type: 'change', step, measure: PROMPT_MEASURE, cells };
    }
    const H = this.hidden;
    const d = H / this.heads;
    for (let l = 0; l < this.layers; l++) {
      for (let i = 0; i < n; i++) {
        const off = i * D + 2 * l * H;
        const delta = Array.from({ length: 2 * H }, (_, j) => now[off + j]! - start[off + j]!);
        const base = norm(start.subarray(off, off + 2 * H));
        const dn = norm(delta);
        const relative = base > 0 ? dn / base : null;
        const perHead = (part: 0 | 1) =>
          Array.from({ length: this.heads }, (_, h) => ({ label: `head ${h}`, value: norm(delta.slice(part * H + h * d, part * H + (h + 1) * d)) }));
        cells.push({
          name: this.direct ? PROMPT_EMBEDDINGS : this.settings.prefixProjection ? `${ENCODER}transform` : EMBEDDING,
          row: `layer.${l}`,
          kind: `v${i}`,
          value: relative ?? dn,
          relative,
          top: topByAbs(delta, topK),
          details: [
            { title: 'key change per head (‖Δk‖)', items: perHead(0) },
            { title: 'value change per head (‖Δv‖)', items: perHead(1) },
            { title: 'size', items: [{ label: '‖Δk‖', value: norm(delta.slice(0, H)) }, { label: '‖Δv‖', value: norm(delta.slice(H)) }, { label: '‖[k₀;v₀]‖', value: base }] },
          ],
        });
      }
    }
    return { v: 1, type: 'change', step, measure: PREFIX_MEASURE, cells };
  }

  /** Each virtual token's nearest vocabulary tokens by cosine similarity with the model's word embeddings. */
  nearest(rows: Float32Array, k = 5): NearestToken[][] {
    const words = this.model.params.get(`${this.model.basePrefix}embeddings.word_embeddings.weight`);
    return nearestTokens(rows, this.settings.numVirtualTokens, words, k, this.tokenizer);
  }

  /** Nearest vocabulary tokens of every virtual token at the start of the measure and now (prompt tuning, P-tuning). */
  nearestNow(k = 5): { start: NearestToken[][]; now: NearestToken[][] } {
    if (this.settings.kind === 'prefix') throw new PeftStudioError('UNSUPPORTED', `${this.info.title}: prefixes are keys/values, not input embeddings, so they have no nearest vocabulary tokens`);
    const now = this.outputHost();
    return { start: this.nearest(this.start ?? now, k), now: this.nearest(now, k) };
  }

  // ─── saving, loading, exporting ───────────────────────────────────────────────────────────────

  /** PeftModel.named_parameters()'s names: the encoder under its adapter name, the classifier copy in its wrapper. */
  libraryName(name: string): string {
    if (name.startsWith(ENCODER)) return `${ENCODER}default.${name.slice(ENCODER.length)}`;
    if (name.startsWith('classifier.')) return `${PEFT_HEAD_PREFIX}classifier.modules_to_save.default.${name.slice('classifier.'.length)}`;
    return name;
  }

  /** Continuing from saved output rows (`prompt_embeddings`): the encoder goes, those rows train directly. */
  private switchToDirect(rows: { shape: number[]; data: Float32Array }, source: string, dryRun = false): void {
    const want = [this.settings.numVirtualTokens, this.outDim];
    if (rows.shape.join() !== want.join()) {
      throw new PeftStudioError('WEIGHTS_MISMATCH', `${source}: ${PROMPT_EMBEDDINGS} has shape [${rows.shape}], this model's ${this.info.title} needs [${want}] — an adapter for another base model or other settings?`, source);
    }
    if (dryRun || this.direct) return;
    for (const name of [...this.added]) {
      this.model.params.delete(name);
      this.vars.delete(name);
      this.why.delete(name);
      this.added.delete(name);
    }
    this.addTrainable(PROMPT_EMBEDDINGS, tf.tensor2d(rows.data, want as [number, number]), `${this.settings.kind === 'prefix' ? 'prefix keys/values' : 'prompt'} (trained directly: the file has no encoder)`);
    this.direct = true;
  }

  override loadTensors(tensors: HostTensors, source: string, opts: { dryRun?: boolean; partial?: (name: string) => boolean } = {}): void {
    const rows = tensors.get(PROMPT_EMBEDDINGS);
    if (!rows || this.direct) return super.loadTensors(tensors, source, opts);
    // Saved output rows instead of the encoder: every check first, then the switch, then the values.
    this.switchToDirect(rows, source, true);
    for (const [name, t] of tensors) {
      if (name === PROMPT_EMBEDDINGS) continue;
      const v = this.vars.get(name);
      if (!v || name.startsWith(ENCODER)) throw new PeftStudioError('WEIGHTS_MISMATCH', `${source}: tensors this ${this.info.title} run does not train: ${name}`, source);
      if (t.shape.join() !== v.shape.join()) {
        throw new PeftStudioError('WEIGHTS_MISMATCH', `${source}: ${name} has shape [${t.shape}], this model's is [${v.shape}] — an adapter for another base model?`, source);
      }
    }
    for (const name of this.vars.keys()) {
      if (!name.startsWith(ENCODER) && !tensors.has(name) && !opts.partial?.(name)) {
        throw new PeftStudioError('WEIGHTS_MISMATCH', `${source}: lacks trainable tensor ${name} — was it made with other ${this.info.title} settings?`, source);
      }
    }
    if (opts.dryRun) return;
    this.switchToDirect(rows, source);
    super.loadTensors(tensors, source, opts);
  }

  /** PEFT's own file: the encoder's output and the classifier; see `loadTensors` for what trains then. */
  loadAdapterTensors(tensors: HostTensors, source: string): string[] {
    const rows = tensors.get(PROMPT_EMBEDDINGS);
    const head = (n: string) => n.startsWith('classifier.');
    if (!rows) throw new PeftStudioError('WEIGHTS_MISMATCH', `${source}: the adapter has no ${PROMPT_EMBEDDINGS}`, source);
    const hasEncoder = this.settings.kind === 'p-tuning' || this.settings.prefixProjection;
    if (!hasEncoder) {
      const renamed: HostTensors = new Map([...tensors].map(([n, t]) => [n === PROMPT_EMBEDDINGS ? EMBEDDING : n, t]));
      super.loadTensors(renamed, source, { partial: head });
      this.start = this.outputHost(); // the what-moved grid measures from the adapter
      this.startNearest = undefined;
      return [];
    }
    this.loadTensors(tensors, source, { partial: head });
    this.start = this.outputHost();
    this.startNearest = undefined;
    return [
      `${source}: PEFT's file holds only the ${this.settings.kind === 'p-tuning' ? 'prompt encoder' : 'prefix projection'}'s output (${PROMPT_EMBEDDINGS}), not its weights; training continues on those ${this.settings.numVirtualTokens} rows directly (as PEFT's inference mode uses them)`,
    ];
  }

  /** HF PEFT's files: adapter_config.json and adapter_model.safetensors (prompt_embeddings = the encoder's output). */
  async exportAdapter(outDir: string, ctx: AdapterExportContext): Promise<AdapterExport> {
    const s = this.settings;
    const tensors: HostTensors = new Map();
    tensors.set(PROMPT_EMBEDDINGS, { shape: [s.numVirtualTokens, this.outDim], data: this.outputHost() });
    for (const [name, v] of this.vars) {
      if (name.startsWith('classifier.')) tensors.set(`${PEFT_HEAD_PREFIX}${name}`, { shape: v.shape, data: ((await v.data()) as Float32Array).slice() });
    }
    const common = {
      auto_mapping: null,
      base_model_name_or_path: ctx.baseModel,
      inference_mode: true,
      num_attention_heads: this.heads,
      num_layers: this.layers,
      num_transformer_submodules: 1,
      num_virtual_tokens: s.numVirtualTokens,
      revision: null,
      task_type: 'SEQ_CLS',
      token_dim: this.hidden,
    };
    let config: Record<string, unknown>;
    if (s.kind === 'prompt') {
      config = {
        ...common,
        peft_type: 'PROMPT_TUNING',
        prompt_tuning_init: s.init,
        prompt_tuning_init_text: s.init === 'TEXT' ? s.initText : null,
        tokenizer_name_or_path: s.init === 'TEXT' ? ctx.baseModel : null,
      };
    } else if (s.kind === 'p-tuning') {
      config = {
        ...common,
        peft_type: 'P_TUNING',
        encoder_dropout: s.encoderDropout,
        encoder_hidden_size: this.encoderHidden,
        encoder_num_layers: s.encoderNumLayers,
        encoder_reparameterization_type: s.reparameterization,
      };
    } else {
      config = { ...common, peft_type: 'PREFIX_TUNING', encoder_hidden_size: this.encoderHidden, prefix_projection: s.prefixProjection };
    }
    const sorted = Object.fromEntries(Object.keys(config).sort().map((k) => [k, config[k]]));
    const { files, bytes } = writeAdapterFiles(outDir, sorted, [{ file: ADAPTER_WEIGHTS, tensors }]);
    return { dir: outDir, files, bytes };
  }
}

/** The most-moved entries of a change vector. */
function topByAbs(delta: number[], k: number): Array<{ index: number; delta: number }> {
  return delta
    .map((v, index) => ({ index, delta: v }))
    .sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta))
    .slice(0, k);
}

function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s);
}

/** N(0, 1) entries (nn.Embedding's default init), Box–Muller from the seeded stream. */
function normal(rng: Rng, shape: [number, number]): tf.Tensor {
  const data = new Float32Array(shape[0] * shape[1]);
  for (let i = 0; i < data.length; i += 2) {
    const u = Math.max(rng(), 1e-12);
    const v = rng();
    const m = Math.sqrt(-2 * Math.log(u));
    data[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < data.length) data[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return tf.tensor2d(data, shape);
}

/** nn.Linear's default weight init: kaiming_uniform(a=√5) = U(±1/√in). */
function linearWeight(rng: Rng, out: number, inDim: number): tf.Tensor {
  const bound = 1 / Math.sqrt(inDim);
  const data = new Float32Array(out * inDim);
  for (let i = 0; i < data.length; i++) data[i] = (2 * rng() - 1) * bound;
  return tf.tensor2d(data, [out, inDim]);
}

/** nn.Linear's default bias init: U(±1/√in). */
function linearBias(rng: Rng, out: number, inDim: number): tf.Tensor {
  const bound = 1 / Math.sqrt(inDim);
  const data = new Float32Array(out);
  for (let i = 0; i < out; i++) data[i] = (2 * rng() - 1) * bound;
  return tf.tensor1d(data);
}
