/**
 * Bottleneck adapters (Houlsby, Pfeiffer, parallel) as AdapterHub `adapters` runs them, through the
 * `sublayerOutput` hook: at a sub-layer's add & norm, given h = dropout(dense(x)), its residual r and its own
 * LayerNorm LN, with f(z) = scaling · (act(z·W_downᵀ + b_down)·W_upᵀ + b_up):
 *
 *   sequential:  z = original_ln_before ? LN(h + r) : h;   skip = residual_before_ln ? h : z
 *                out = f(z) + skip;                          output = original_ln_after ? LN(out + r) : out
 *   parallel:    out = h + f(r);                             output = original_ln_after ? LN(out + r) : out
 *
 * The adapter tensors are new, under AdapterHub's parameter names
 * (`bert.encoder.layer.0.output.adapters.<name>.adapter_down.0.weight`); the frozen model keeps every fused
 * kernel (stacked q/k/v attention, product-plus-bias, add & LayerNorm), and the adapter itself is two small
 * product-plus-bias ops and an activation, which the native GEMM (and GELU) kernels run.
 */
import { tf } from '../../backend/tf';
import { mulberry32 } from '../../data/rng';
import { PeftStudioError } from '../../errors';
import { writeFileAtomic } from '../../io/atomic';
import { writeSafetensors } from '../../io/safetensors';
import type { ModelHooks, SublayerOutputArgs, SublayerPlace } from '../../model/hooks';
import { activation, layerNorm } from '../../model/layers';
import type { EncoderModel } from '../../model/model';
import type { ChangeCell, ChangeEvent } from '../../protocol/events';
import { heatmapRows, isHeadParam, MethodBase } from '../base';
import type { AdapterExport, AdapterExportContext, ApplyContext, ChangeLayout, HostTensor, HostTensors, MethodInfo, MethodSpec } from '../types';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ADAPTER_INFOS, bottleneckSize, PRESETS, type BottleneckSettings } from './config';

export const ADAPTER_MEASURE = 's·‖W_up·W_down‖F / √d';
/** AdapterHub's file names: ours (safetensors) and what its `save_adapter` writes (torch pickles). */
export const ADAPTERHUB_FILES = {
  config: 'adapter_config.json',
  headConfig: 'head_config.json',
  weights: 'adapter_model.safetensors',
  head: 'head.safetensors',
  libraryWeights: 'pytorch_adapter.bin',
  libraryHead: 'pytorch_model_head.bin',
} as const;
/** The `adapters` release whose semantics and file format these are. */
export const ADAPTERHUB_VERSION = '0.1.0';

interface Place {
  layer: number;
  place: SublayerPlace;
  /** Module path of the adapter, `bert.encoder.layer.0.output.adapters.seq_bn`. */
  module: string;
  down: tf.Variable; // [m, d]
  downBias: tf.Variable; // [m]
  up: tf.Variable; // [d, m]
  upBias: tf.Variable; // [d]
  /** The adapter's own LayerNorms (ln_before, ln_after), by their module path. */
  normBefore?: string;
  normAfter?: string;
}

/** PyTorch's nn.LayerNorm default eps: the adapter's own LayerNorms are built without one. */
const ADAPTER_LN_EPS = 1e-5;

export class BottleneckAdapters extends MethodBase {
  readonly info: MethodInfo;
  private readonly places = new Map<string, Place>();
  private start = new Map<string, Float32Array>();
  private hidden = 0;
  private bottleneck = 0;

  constructor(
    readonly settings: BottleneckSettings,
    spec: MethodSpec,
  ) {
    super(spec);
    this.info = ADAPTER_INFOS.find((i) => i.name === settings.preset)!;
  }

  /** Bottleneck units m and hidden size d once applied. */
  get sizes(): { m: number; d: number; perPlace: number } {
    const norms = (this.settings.lnBefore ? 2 : 0) + (this.settings.lnAfter ? 2 : 0);
    return { m: this.bottleneck, d: this.hidden, perPlace: 2 * this.bottleneck * this.hidden + this.bottleneck + this.hidden + norms * this.hidden };
  }

  protected setup(model: EncoderModel, ctx: ApplyContext): void {
    const s = this.settings;
    const c = model.config;
    if (s.hiddenSize !== null && s.hiddenSize !== c.hiddenSize) {
      throw new PeftStudioError(
        'WEIGHTS_MISMATCH',
        `method ${s.preset}: the adapter was made for hidden_size ${s.hiddenSize} (adapter_config.json "hidden_size"), but this base model's hidden size is ${c.hiddenSize} — an adapter for another base model`,
      );
    }
    const d = c.hiddenSize;
    const m = bottleneckSize(s, d);
    this.hidden = d;
    this.bottleneck = m;
    const layers = Array.from({ length: c.numHiddenLayers }, (_, i) => i).filter((i) => !s.leaveOut.includes(i));
    const outside = s.leaveOut.filter((i) => i >= c.numHiddenLayers);
    if (outside.length) ctx.notices.push(`leave_out: this model has layers 0…${c.numHiddenLayers - 1}; ${outside.join(', ')} ignored`);
    if (!layers.length) throw new PeftStudioError('BAD_INPUT', `method ${s.preset}: leave_out ${JSON.stringify(s.leaveOut)} leaves no layer of this model's ${c.numHiddenLayers} for an adapter`);
    const rng = mulberry32(ctx.seed ^ 0xada9);
    const kinds: SublayerPlace[] = [...(s.mhAdapter ? (['attention'] as const) : []), ...(s.outputAdapter ? (['output'] as const) : [])];
    for (const layer of layers) {
      for (const place of kinds) {
        const module = adapterModule(model, layer, place, s.adapterName);
        const why = `${PRESETS[s.preset].title} (${place}, layer ${layer})`;
        const w = initTensors(s.initWeights, rng, m, d);
        // AdapterHub's module order (named_parameters): adapter_norm_before, adapter_down (the Linear is
        // adapter_down.1 behind that LayerNorm), adapter_up, adapter_norm_after.
        const normBefore = s.lnBefore ? this.addNorm(`${module}.adapter_norm_before`, d, `${why}: input LayerNorm`) : undefined;
        const lin = `${module}.adapter_down.${s.lnBefore ? 1 : 0}`;
        const down = this.addTrainable(`${lin}.weight`, w.down, `${why}: down-projection`);
        const downBias = this.addTrainable(`${lin}.bias`, w.downBias, `${why}: down-projection bias`);
        const up = this.addTrainable(`${module}.adapter_up.weight`, w.up, `${why}: up-projection`);
        const upBias = this.addTrainable(`${module}.adapter_up.bias`, w.upBias, `${why}: up-projection bias`);
        const normAfter = s.lnAfter ? this.addNorm(`${module}.adapter_norm_after`, d, `${why}: output LayerNorm`) : undefined;
        this.places.set(placeKey(layer, place), { layer, place, module, down, downBias, up, upBias, normBefore, normAfter });
      }
    }
    if (s.trainLayerNorms) {
      for (const name of model.params.names()) if (isLayerNormOfLayer(name)) this.trainExisting(name, 'encoder LayerNorm (train_layer_norms)');
    }
    // AdapterHub's train_adapter freezes the base model only: the task head outside it trains.
    this.trainHead();
    const per = this.sizes.perPlace;
    const head = [...this.vars].filter(([n]) => isHeadParam(n)).reduce((a, [, v]) => a + v.size, 0);
    ctx.notices.push(
      `${PRESETS[s.preset].title} "${s.adapterName}": m = ${m} (${d} // ${s.reductionFactor}), ${s.nonLinearity}, scaling ${s.scaling}, at ${this.places.size} places (${kinds.join(' + ')} × ${layers.length} layers): ` +
        `${per} parameters each (2·m·d + d + m${s.lnBefore || s.lnAfter ? ' + 2·d per own LayerNorm' : ''}), ${per * this.places.size} in all, + task head ${head}`,
    );
    this.start = this.snapshot();
  }

  /** A new LayerNorm (weight 1, bias 0) of the adapter's own. */
  private addNorm(module: string, d: number, why: string): string {
    this.addTrainable(`${module}.weight`, tf.ones([d]), why);
    this.addTrainable(`${module}.bias`, tf.zeros([d]), `${why} bias`);
    return module;
  }

  protected override hooks(): ModelHooks {
    return { sublayerOutput: (a) => this.sublayer(a) };
  }

  private sublayer(a: SublayerOutputArgs): tf.Tensor | undefined {
    const p = this.places.get(placeKey(a.layer, a.place));
    if (!p) return undefined;
    const s = this.settings;
    let out: tf.Tensor;
    const norm = (x: tf.Tensor, module: string) => layerNorm(this.model.params, module, x, ADAPTER_LN_EPS);
    if (s.isParallel) {
      // ParallelAdapter: the adapter reads the sub-layer's input; its output joins h before the add & norm.
      let f = this.bottleneckOf(p, a.residual, a);
      if (p.normAfter) f = norm(f, p.normAfter);
      out = tf.add(f, a.hidden);
    } else {
      const z = s.originalLnBefore ? a.norm(a.hidden, a.residual) : a.hidden;
      const skip = s.residualBeforeLn ? a.hidden : z;
      const f = this.bottleneckOf(p, z, a);
      if (!p.normAfter) out = tf.add(f, skip);
      else if (s.adapterResidualBeforeLn) out = norm(tf.add(f, skip), p.normAfter);
      else out = tf.add(norm(f, p.normAfter), skip);
    }
    return s.originalLnAfter ? a.norm(out, a.residual) : out;
  }

  /** f(z) = scaling · (act(z·W_downᵀ + b_down)·W_upᵀ + b_up), then dropout. z: [..., d]. */
  private bottleneckOf(p: Place, z: tf.Tensor, a: SublayerOutputArgs): tf.Tensor {
    const s = this.settings;
    const z2 = (p.normBefore ? layerNorm(this.model.params, p.normBefore, z, ADAPTER_LN_EPS) : z).reshape([-1, this.hidden]);
    // Product then bias (torch's addmm order). Not tf.fused.matMul: the stock wasm kernel gets transposeB
    // with a bias wrong; a plain transposed product is what the native GEMM kernel takes on wasm anyway.
    const down = tf.add(tf.matMul(z2, p.down, false, true), p.downBias);
    let up = tf.add(tf.matMul(act(s.nonLinearity, down), p.up, false, true), p.upBias);
    if (s.scaling !== 1) up = tf.mul(up, s.scaling);
    if (s.dropout > 0) up = a.drop.apply(up, s.dropout);
    return up.reshape(z.shape);
  }

  /** The adapter places, in model order. */
  adapterPlaces(): Array<{ layer: number; place: SublayerPlace; module: string }> {
    return [...this.places.values()].map(({ layer, place, module }) => ({ layer, place, module }));
  }

  changeLayout(): ChangeLayout {
    const columns = [...(this.settings.mhAdapter ? ['attention'] : []), ...(this.settings.outputAdapter ? ['output'] : [])];
    return { rows: heatmapRows(this.model), columns, measure: ADAPTER_MEASURE };
  }

  override async markStart(): Promise<void> {
    this.start = this.snapshot();
  }

  private snapshot(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const p of this.places.values()) for (const v of [p.down, p.downBias, p.up, p.upBias]) out.set(v.name, (v.dataSync() as Float32Array).slice());
    return out;
  }

  async changeReport(step: number, topK: number): Promise<ChangeEvent> {
    const cells: ChangeCell[] = [];
    const { m, d } = this.sizes;
    for (const p of this.places.values()) {
      const [down, downBias, up, upBias] = (await Promise.all([p.down.data(), p.downBias.data(), p.up.data(), p.upBias.data()])) as Float32Array[];
      const sum = summarizeBottleneck(down!, up!, m, d, this.settings.scaling);
      let moved = 0;
      let norm0 = 0;
      for (const [v, now] of [[p.down, down], [p.downBias, downBias], [p.up, up], [p.upBias, upBias]] as const) {
        const was = this.start.get(v.name);
        if (!was) continue;
        for (let i = 0; i < now!.length; i++) (moved += (now![i]! - was[i]!) ** 2), (norm0 += was[i]! ** 2);
      }
      const units = topOf(sum.unitNorms, topK);
      const outs = topOf(sum.outNorms, topK);
      cells.push({
        name: p.module,
        row: `layer.${p.layer}`,
        kind: p.place,
        value: sum.gain,
        relative: norm0 > 0 ? Math.sqrt(moved / norm0) : null,
        top: units.map((index) => ({ index, delta: sum.unitNorms[index]! })),
        details: [
          { title: 'bottleneck units carrying the most (s·‖W_up[:, j]‖·‖W_down[j, :]‖)', items: units.map((j) => ({ label: `unit ${j}`, value: sum.unitNorms[j]! })) },
          { title: 'hidden units written most (‖row of s·W_up·W_down‖)', items: outs.map((i) => ({ label: `out ${i}`, value: sum.outNorms[i]! })) },
          {
            title: 'size',
            items: [
              { label: 's·‖W_up·W_down‖F', value: sum.frobenius },
              { label: '‖b_up‖', value: Math.hypot(...upBias!) },
              { label: 'bottleneck m', value: m },
              { label: 'parameters', value: this.sizes.perPlace },
            ],
          },
        ],
      });
    }
    return { v: 1, type: 'change', step, measure: ADAPTER_MEASURE, cells };
  }

  /** AdapterHub's names are ours: `named_parameters()` of the adapter model are these keys. */
  libraryName(name: string): string {
    return name;
  }

  /**
   * AdapterHub's folder: adapter_config.json ({config: BnConfig fields, hidden_size, model_class, model_name,
   * model_type, name, version}), the adapter tensors under the library's keys, the HF head and head_config.json.
   * Safetensors only (the library's own `save_adapter` writes torch pickles; never written here).
   */
  async exportAdapter(outDir: string, ctx: AdapterExportContext): Promise<AdapterExport> {
    const tensors = await this.exportTensors();
    const adapter: HostTensors = new Map();
    const head: HostTensors = new Map();
    for (const [n, t] of tensors) {
      (isHeadParam(n) ? head : adapter).set(n, t);
      // torch's state_dict lists a module under every name it is registered by: the input LayerNorm is
      // also adapter_down.0 (the first module of the adapter_down Sequential), and save_adapter writes both.
      const dup = /^(.*)\.adapter_norm_before\.(weight|bias)$/.exec(n);
      if (dup) adapter.set(`${dup[1]}.adapter_down.0.${dup[2]}`, t);
    }
    const c = this.model.config;
    const common = {
      hidden_size: c.hiddenSize,
      model_class: modelClass(c.family),
      model_name: ctx.baseModel,
      model_type: c.family,
    };
    const label2id = Object.fromEntries(Object.entries(ctx.id2label).map(([id, label]) => [label, Number(id)]));
    fs.mkdirSync(outDir, { recursive: true });
    const files: string[] = [];
    const write = (file: string, text: string) => {
      writeFileAtomic(path.join(outDir, file), text);
      files.push(path.join(outDir, file));
    };
    const save = (file: string, t: HostTensors) => {
      writeSafetensors(path.join(outDir, file), [...t].map(([name, x]) => ({ name, dtype: 'F32' as const, shape: x.shape, data: x.data })), { format: 'pt' });
      files.push(path.join(outDir, file));
    };
    write(ADAPTERHUB_FILES.config, adapterHubJson({ config: bnConfigOf(this.settings), ...common, name: this.settings.adapterName, version: ADAPTERHUB_VERSION, ...(this.settings.trainLayerNorms ? { train_layer_norms: true } : {}) }));
    save(ADAPTERHUB_FILES.weights, adapter);
    if (head.size) {
      write(ADAPTERHUB_FILES.headConfig, adapterHubJson({ config: null, ...common, label2id, name: null, num_labels: Object.keys(label2id).length || headLabels(head), version: ADAPTERHUB_VERSION }));
      save(ADAPTERHUB_FILES.head, head);
    }
    return { dir: outDir, files, bytes: files.reduce((a, f) => a + fs.statSync(f).size, 0) };
  }
}

/** The four tensors of one place, initialised as AdapterHub's `init_weights` does, from our seeded RNG. */
function initTensors(kind: BottleneckSettings['initWeights'], rng: () => number, m: number, d: number): Record<'down' | 'downBias' | 'up' | 'upBias', tf.Tensor> {
  const down = new Float32Array(m * d);
  const up = new Float32Array(d * m);
  if (kind === 'bert') {
    // Adapter.init_bert_weights: Linear weights N(0, 0.02), biases 0.
    fillNormal(down, rng, 0.02);
    fillNormal(up, rng, 0.02);
  } else if (kind === 'houlsby') {
    // trunc_normal_(std 1e-2, a = −2e-2, b = 2e-2), biases 0.
    fillNormal(down, rng, 0.01, 0.02);
    fillNormal(up, rng, 0.01, 0.02);
  } else {
    // mam_adapter: kaiming_uniform_(a=√5) on [m, d] is U(−1/√d, 1/√d); up-projection and all biases 0.
    const bound = 1 / Math.sqrt(d);
    for (let i = 0; i < down.length; i++) down[i] = (2 * rng() - 1) * bound;
  }
  return { down: tf.tensor2d(down, [m, d]), downBias: tf.zeros([m]), up: tf.tensor2d(up, [d, m]), upBias: tf.zeros([d]) };
}

/** N(0, std²) by Box–Muller; with `cut`, redrawn until |x| ≤ cut (a truncated normal). */
function fillNormal(out: Float32Array, rng: () => number, std: number, cut = Infinity): void {
  for (let i = 0; i < out.length; i++) {
    let x: number;
    do {
      const u = Math.max(rng(), 1e-12);
      x = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng()) * std;
    } while (Math.abs(x) > cut);
    out[i] = x;
  }
}

function act(name: BottleneckSettings['nonLinearity'], x: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'relu':
      return tf.relu(x);
    case 'gelu':
    case 'gelu_new':
      return activation(name, x);
    case 'swish':
    case 'silu':
      return activation('silu', x);
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'leakyrelu':
      return tf.leakyRelu(x, 0.01);
  }
}

function placeKey(layer: number, place: SublayerPlace): string {
  return `${layer}:${place}`;
}

/** AdapterHub's module path of an adapter: BERT/RoBERTa `…layer.i.attention.output.adapters.<name>`, DistilBERT `…layer.i.attention_adapters.adapters.<name>`. */
export function adapterModule(model: EncoderModel, layer: number, place: SublayerPlace, name: string): string {
  const base = model.basePrefix;
  if (model.config.family === 'distilbert') return `${base}transformer.layer.${layer}.${place === 'attention' ? 'attention_adapters' : 'output_adapters'}.adapters.${name}`;
  return `${base}encoder.layer.${layer}.${place === 'attention' ? 'attention.output' : 'output'}.adapters.${name}`;
}

function isLayerNormOfLayer(name: string): boolean {
  return /(?:^|\.)(?:encoder|transformer)\.layer\.\d+\..*(?:LayerNorm|layer_norm)\.(?:weight|bias)$/.test(name);
}

function modelClass(family: string): string {
  return `${{ bert: 'Bert', roberta: 'Roberta', distilbert: 'DistilBert' }[family] ?? 'Bert'}ForSequenceClassification`;
}

function headLabels(head: HostTensors): number {
  const out = [...head].find(([n]) => /(^classifier\.weight|out_proj\.weight)$/.test(n));
  return out ? out[1].shape[0]! : 0;
}

/** Every BnConfig field as AdapterHub 0.1.0 writes it (sorted keys). */
export function bnConfigOf(s: BottleneckSettings): Record<string, unknown> {
  return {
    adapter_residual_before_ln: s.adapterResidualBeforeLn,
    cross_adapter: false,
    ...(s.dropout > 0 ? { dropout: s.dropout } : {}),
    factorized_phm_W: true,
    factorized_phm_rule: false,
    hypercomplex_nonlinearity: 'glorot-uniform',
    init_weights: s.initWeights,
    inv_adapter: null,
    inv_adapter_reduction_factor: null,
    is_parallel: s.isParallel,
    learn_phm: true,
    leave_out: s.leaveOut,
    ln_after: s.lnAfter,
    ln_before: s.lnBefore,
    mh_adapter: s.mhAdapter,
    non_linearity: s.nonLinearity,
    original_ln_after: s.originalLnAfter,
    original_ln_before: s.originalLnBefore,
    output_adapter: s.outputAdapter,
    phm_bias: true,
    phm_c_init: 'normal',
    phm_dim: 4,
    phm_init_range: 0.0001,
    phm_layer: false,
    phm_rank: 1,
    reduction_factor: s.reductionFactor,
    residual_before_ln: s.residualBeforeLn,
    scaling: new PyFloat(s.scaling),
    shared_W_phm: false,
    shared_phm_rule: true,
    use_gating: false,
  };
}

/** A number JSON must write with a decimal point: AdapterHub accepts `scaling` only as a Python float. */
class PyFloat {
  constructor(readonly value: number) {}
}

function adapterHubJson(o: Record<string, unknown>): string {
  const marks: string[] = [];
  const text = JSON.stringify(
    o,
    (_k, v: unknown) => {
      if (v instanceof PyFloat) {
        marks.push(Number.isInteger(v.value) ? `${v.value}.0` : String(v.value));
        return `\u0000${marks.length - 1}\u0000`;
      }
      return v;
    },
    2,
  );
  return text.replace(/"\\u0000(\d+)\\u0000"/g, (_m, i: string) => marks[Number(i)]!) + '\n';
}

/**
 * The host-side summary of one place: the linear gain s·W_up·W_down against the identity skip (‖I‖F = √d).
 * Through the m×m Gram matrix G = W_down·W_downᵀ, so it costs O(d·m²) instead of forming the d×d product:
 * ‖row i of s·W_up·W_down‖² = s²·u_i·G·u_iᵀ with u_i the i-th row of W_up.
 */
export function summarizeBottleneck(down: Float32Array, up: Float32Array, m: number, d: number, scaling: number) {
  const gram = new Float64Array(m * m);
  for (let a = 0; a < m; a++) {
    for (let b = a; b < m; b++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += down[a * d + k]! * down[b * d + k]!;
      gram[a * m + b] = dot;
      gram[b * m + a] = dot;
    }
  }
  const outNorms = new Float64Array(d);
  let fro2 = 0;
  for (let i = 0; i < d; i++) {
    let r2 = 0;
    for (let a = 0; a < m; a++) {
      const ua = up[i * m + a]!;
      if (ua === 0) continue;
      let row = 0;
      for (let b = 0; b < m; b++) row += gram[a * m + b]! * up[i * m + b]!;
      r2 += ua * row;
    }
    r2 = Math.max(0, r2) * scaling * scaling;
    outNorms[i] = Math.sqrt(r2);
    fro2 += r2;
  }
  const unitNorms = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    let u2 = 0;
    for (let i = 0; i < d; i++) u2 += up[i * m + j]! ** 2;
    unitNorms[j] = Math.abs(scaling) * Math.sqrt(u2 * gram[j * m + j]!);
  }
  const frobenius = Math.sqrt(fro2);
  return { frobenius, gain: frobenius / Math.sqrt(d), outNorms, unitNorms };
}

function topOf(values: Float64Array, k: number): number[] {
  return [...values.keys()].sort((a, b) => values[b]! - values[a]!).slice(0, Math.max(0, k));
}

export type { HostTensor };
