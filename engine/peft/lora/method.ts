/**
 * LoRA (Hu et al.) with HF PEFT's semantics: each target linear layer gets h = x·Wᵀ + b + s·(drop(x)·Aᵀ)·Bᵀ,
 * W frozen, s = lora_alpha / r (or / √r). A and B are new tensors under PEFT's names without the
 * `base_model.model.` prefix (`bert.encoder.layer.0.attention.self.query.lora_A.weight`); the classifier
 * trains fully (modules_to_save). The frozen products keep the native fast path: the low-rank term is added
 * to a target's output, inside the stacked q/k/v product for attention (bert.ts).
 */
import { tf } from '../../backend/tf';
import { classifyBias } from '../../model/biases';
import type { ModelHooks } from '../../model/hooks';
import type { Dropout } from '../../model/layers';
import { LAYER_MODULE_KINDS, linearModules, moduleKind } from '../../model/modules';
import type { EncoderModel } from '../../model/model';
import { mulberry32 } from '../../data/rng';
import type { ChangeCell, ChangeEvent } from '../../protocol/events';
import { ADAPTER_WEIGHTS, writeAdapterFiles } from '../adapter-files';
import { heatmapRows, MethodBase, rowOf } from '../base';
import type { AdapterExport, AdapterExportContext, ApplyContext, ChangeLayout, HostTensors, MethodSpec } from '../types';
import { inModulesToSave, LORA_INFO, loraScaling, selectTargets, type LoraSettings } from './config';
import { summarizeLowRank, topIndices } from './lowrank';

export const LORA_MEASURE = '‖ΔW‖F / ‖W‖F';
/** PEFT's prefix of every key in a sequence-classification adapter file. */
export const PEFT_PREFIX = 'base_model.model.';

interface Target {
  module: string;
  a: tf.Variable; // [r, in]
  b: tf.Variable; // [out, r]
  inDim: number;
  outDim: number;
  /** ‖W‖F of the frozen weight, for the relative measure. */
  weightNorm: number;
}

export class Lora extends MethodBase {
  readonly info = LORA_INFO;
  readonly scaling: number;
  private readonly targets = new Map<string, Target>();

  constructor(
    readonly settings: LoraSettings,
    spec: MethodSpec,
  ) {
    super(spec);
    this.scaling = loraScaling(settings);
  }

  protected setup(model: EncoderModel, ctx: ApplyContext): void {
    const s = this.settings;
    const modules = selectTargets(linearModules(model), s);
    const rng = mulberry32(ctx.seed ^ 0x10ea);
    for (const module of modules) {
      const w = model.params.get(`${module}.weight`);
      const [outDim, inDim] = w.shape as [number, number];
      const a = this.addTrainable(`${module}.lora_A.weight`, initA(s, rng, inDim), `LoRA A of ${module}`);
      const b = this.addTrainable(`${module}.lora_B.weight`, tf.zeros([outDim, s.r]), `LoRA B of ${module}`);
      const norm2 = tf.tidy(() => tf.sum(tf.square(w)));
      const weightNorm = Math.sqrt(norm2.dataSync()[0]!);
      norm2.dispose();
      this.targets.set(module, { module, a, b, inDim, outDim, weightNorm });
    }
    for (const name of model.params.names()) {
      if (this.vars.has(name) || this.added.has(name)) continue;
      if (s.modulesToSave.length && inModulesToSave(name, s.modulesToSave)) this.trainExisting(name, 'modules_to_save');
      else if (s.bias === 'all' && classifyBias(name) && name.endsWith('.bias')) this.trainExisting(name, 'bias (bias: all)');
      else if (s.bias === 'lora_only' && name.endsWith('.bias') && this.targets.has(name.slice(0, -'.bias'.length))) this.trainExisting(name, 'bias of a LoRA module (bias: lora_only)');
    }
    for (const m of s.modulesToSave) {
      if (!model.params.names().some((n) => inModulesToSave(n, [m]))) ctx.notices.push(`modules_to_save: "${m}" matches no module of this model`);
    }
    ctx.notices.push(`LoRA r=${s.r}, scale ${this.scaling} on ${modules.length} modules (${[...new Set(modules.map((m) => m.split('.').slice(-2).join('.')))].join(', ')})`);
  }

  protected override hooks(): ModelHooks {
    return {
      hasLinearDelta: (module) => this.targets.has(module),
      linearDelta: (module, x, drop) => this.delta(this.targets.get(module)!, x, drop),
    };
  }

  /** s·(drop(x)·Aᵀ)·Bᵀ, PEFT's `lora_B(lora_A(dropout(x))) * scaling`. */
  private delta(t: Target, x: tf.Tensor, drop: Dropout): tf.Tensor {
    const xin = this.settings.loraDropout > 0 ? drop.apply(x, this.settings.loraDropout) : x;
    const x2 = xin.reshape([-1, t.inDim]);
    // The scale goes on the rank-r product (s·(x·Aᵀ))·Bᵀ, not on the [N, out] one: the same value (exactly so
    // for a power-of-two scale, within a rounding otherwise), and its multiply and gradient r/out as large.
    const y = tf.matMul(tf.mul(tf.matMul(x2, t.a, false, true), this.scaling), t.b, false, true);
    return y.reshape([...x.shape.slice(0, -1), t.outDim]);
  }

  /** The wrapped modules, in model order. */
  targetModules(): string[] {
    return [...this.targets.keys()];
  }

  changeLayout(): ChangeLayout {
    const kinds = new Set([...this.targets.keys()].map(moduleKind));
    const columns = [...LAYER_MODULE_KINDS.filter((k) => kinds.has(k)), ...[...kinds].filter((k) => !(LAYER_MODULE_KINDS as readonly string[]).includes(k))];
    return { rows: heatmapRows(this.model), columns, measure: LORA_MEASURE };
  }

  async changeReport(step: number, topK: number): Promise<ChangeEvent> {
    const cells: ChangeCell[] = [];
    for (const t of this.targets.values()) {
      const r = this.settings.r;
      const sum = summarizeLowRank((await t.a.data()) as Float32Array, (await t.b.data()) as Float32Array, r, t.inDim, t.outDim, this.scaling);
      const outs = topIndices(sum.outNorms, topK);
      const ins = topIndices(sum.inNorms, topK);
      const relative = t.weightNorm > 0 ? sum.frobenius / t.weightNorm : null;
      cells.push({
        name: t.module,
        row: rowOf(`${t.module}.`),
        kind: moduleKind(t.module),
        value: relative ?? sum.frobenius,
        relative,
        top: outs.map((index) => ({ index, delta: sum.outNorms[index]! })),
        details: [
          { title: 'singular values of ΔW', items: sum.singular.slice(0, r).map((v, i) => ({ label: `σ${i + 1}`, value: v })) },
          { title: 'output units moved most (‖ΔW row‖)', items: outs.map((i) => ({ label: `out ${i}`, value: sum.outNorms[i]! })) },
          { title: 'input units read most (‖ΔW column‖)', items: ins.map((i) => ({ label: `in ${i}`, value: sum.inNorms[i]! })) },
          { title: 'size', items: [{ label: '‖ΔW‖F', value: sum.frobenius }, { label: '‖W‖F', value: t.weightNorm }] },
        ],
      });
    }
    return { v: 1, type: 'change', step, measure: LORA_MEASURE, cells };
  }

  /** PEFT's merge_and_unload: W += s·B·A for every target, then the LoRA tensors and hooks go. */
  override merge(): void {
    const p = this.model.params;
    for (const t of this.targets.values()) {
      const name = `${t.module}.weight`;
      const merged = tf.tidy(() => tf.add(p.get(name), tf.mul(tf.matMul(t.b, t.a), this.scaling)));
      const wasTrainable = this.vars.get(name);
      if (wasTrainable) wasTrainable.assign(merged);
      else p.set(name, merged);
      if (wasTrainable) merged.dispose();
    }
    this.targets.clear();
    this.removeAdded();
    super.merge();
  }

  /** PeftModel.named_parameters()'s name: LoRA tensors carry the adapter name, modules_to_save their wrapper. */
  libraryName(name: string): string {
    const m = /^(.*)\.(lora_[AB])\.weight$/.exec(name);
    if (m) return `${PEFT_PREFIX}${m[1]}.${m[2]}.default.weight`;
    if (this.why.get(name) === 'modules_to_save') {
      const module = this.settings.modulesToSave.find((s) => name.startsWith(`${s}.`)) ?? name.replace(/\.(weight|bias)$/, '');
      return `${PEFT_PREFIX}${module}.modules_to_save.default.${name.slice(module.length + 1)}`;
    }
    return PEFT_PREFIX + name;
  }

  /** HF PEFT's files: adapter_config.json + adapter_model.safetensors under PEFT's keys. */
  async exportAdapter(outDir: string, ctx: AdapterExportContext): Promise<AdapterExport> {
    const tensors: HostTensors = new Map();
    for (const [name, t] of await this.exportTensors()) tensors.set(PEFT_PREFIX + name, t);
    const s = this.settings;
    const config = {
      auto_mapping: null,
      base_model_name_or_path: ctx.baseModel,
      bias: s.bias,
      fan_in_fan_out: false,
      inference_mode: true,
      init_lora_weights: s.initLoraWeights === 'default' ? true : s.initLoraWeights,
      layers_pattern: null,
      layers_to_transform: s.layersToTransform,
      lora_alpha: s.loraAlpha,
      lora_dropout: s.loraDropout,
      // PEFT adds the classifier itself for SEQ_CLS and writes null; anything more is written out.
      modules_to_save: s.modulesToSave.length === 1 && s.modulesToSave[0] === 'classifier' ? null : s.modulesToSave,
      peft_type: 'LORA',
      r: s.r,
      revision: null,
      target_modules: s.targetModules === 'all-linear' ? this.suffixes() : s.targetModules,
      task_type: 'SEQ_CLS',
      ...(s.useRslora ? { use_rslora: true } : {}),
    };
    const { files, bytes } = writeAdapterFiles(outDir, config, [{ file: ADAPTER_WEIGHTS, tensors }]);
    return { dir: outDir, files, bytes };
  }

  /** 'all-linear' as the explicit suffix list PEFT 0.5 understands. */
  private suffixes(): string[] {
    return [...new Set([...this.targets.keys()].map((m) => m.split('.').pop()!))];
  }
}

function initA(s: LoraSettings, rng: () => number, inDim: number): tf.Tensor {
  const data = new Float32Array(s.r * inDim);
  if (s.initLoraWeights === 'gaussian') {
    // PEFT: nn.init.normal_(A, std=1 / r).
    const std = 1 / s.r;
    for (let i = 0; i < data.length; i += 2) {
      const u = Math.max(rng(), 1e-12);
      const v = rng();
      const m = Math.sqrt(-2 * Math.log(u));
      data[i] = m * Math.cos(2 * Math.PI * v) * std;
      if (i + 1 < data.length) data[i + 1] = m * Math.sin(2 * Math.PI * v) * std;
    }
  } else {
    // kaiming_uniform_(a=√5) on [r, in]: U(−1/√in, 1/√in).
    const bound = 1 / Math.sqrt(inDim);
    for (let i = 0; i < data.length; i++) data[i] = (2 * rng() - 1) * bound;
  }
  return tf.tensor2d(data, [s.r, inDim]);
}
