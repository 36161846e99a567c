/**
 * Bottleneck adapters with AdapterHub `adapters`' semantics (BnConfig): a small down-projection, an
 * activation and an up-projection, f(z) = scaling · (act(z·W_downᵀ + b_down)·W_upᵀ + b_up), placed at a
 * sub-layer's "add & norm" (after the attention output projection and/or the FFN output projection).
 * Three presets share one implementation and one list of settings; they differ in their defaults:
 *
 *  - `houlsby` (AdapterHub DoubleSeqBnConfig, `double_seq_bn`): both places, swish, LN(h + f(h) + r);
 *  - `pfeiffer` (SeqBnConfig, `seq_bn`): FFN output only, relu, a = LN(h + r), LN(h + f(a) + r);
 *  - `parallel-adapter` (ParBnConfig, `par_bn`, He et al.): FFN output only, relu, scaling 4,
 *    mam_adapter init, LN(h + r + f(r)) — the adapter reads the sub-layer's input r.
 *
 * No TF.js here: the catalog (extension host, CLI help, schema) imports these infos.
 */
import { PeftStudioError } from '../../errors';
import type { MethodInfo, SettingSpec } from '../types';

export type Preset = 'houlsby' | 'pfeiffer' | 'parallel-adapter';

export const NON_LINEARITIES = ['relu', 'gelu', 'gelu_new', 'swish', 'silu', 'tanh', 'sigmoid', 'leakyrelu'] as const;
export type NonLinearity = (typeof NON_LINEARITIES)[number];
export const INIT_WEIGHTS = ['bert', 'mam_adapter', 'houlsby'] as const;
export type InitWeights = (typeof INIT_WEIGHTS)[number];

export interface BottleneckSettings {
  preset: Preset;
  /** The adapter's name inside parameter keys (`….adapters.<name>.adapter_down.0.weight`). */
  adapterName: string;
  reductionFactor: number;
  nonLinearity: NonLinearity;
  mhAdapter: boolean;
  outputAdapter: boolean;
  isParallel: boolean;
  originalLnBefore: boolean;
  originalLnAfter: boolean;
  residualBeforeLn: boolean;
  /** The adapter's own LayerNorms (eps 1e-5, PyTorch's default): on its input, on its output. */
  lnBefore: boolean;
  lnAfter: boolean;
  /** With ln_after: the adapter's skip is added before its own LayerNorm (true) or after it. */
  adapterResidualBeforeLn: boolean;
  initWeights: InitWeights;
  scaling: number;
  dropout: number;
  leaveOut: number[];
  trainLayerNorms: boolean;
  /** The base's hidden size the adapter was made for (an imported adapter); null: any. */
  hiddenSize: number | null;
}

interface PresetDefaults {
  alias: string;
  configClass: string;
  title: string;
  description: string;
  nonLinearity: NonLinearity;
  mhAdapter: boolean;
  originalLnBefore: boolean;
  initWeights: InitWeights;
  scaling: number;
  isParallel: boolean;
}

export const PRESETS: Record<Preset, PresetDefaults> = {
  houlsby: {
    alias: 'double_seq_bn',
    configClass: 'DoubleSeqBnConfig',
    title: 'Houlsby adapters',
    description: 'bottleneck adapters after attention and FFN (AdapterHub DoubleSeqBnConfig, Houlsby et al.); cannot merge',
    nonLinearity: 'swish',
    mhAdapter: true,
    originalLnBefore: false,
    initWeights: 'bert',
    scaling: 1,
    isParallel: false,
  },
  pfeiffer: {
    alias: 'seq_bn',
    configClass: 'SeqBnConfig',
    title: 'Pfeiffer adapters',
    description: 'one bottleneck adapter after each FFN (AdapterHub SeqBnConfig, Pfeiffer et al.); cannot merge',
    nonLinearity: 'relu',
    mhAdapter: false,
    originalLnBefore: true,
    initWeights: 'bert',
    scaling: 1,
    isParallel: false,
  },
  'parallel-adapter': {
    alias: 'par_bn',
    configClass: 'ParBnConfig',
    title: 'Parallel adapters',
    description: 'a scaled bottleneck beside each FFN, reading its input (AdapterHub ParBnConfig, He et al.); cannot merge',
    nonLinearity: 'relu',
    mhAdapter: false,
    originalLnBefore: false,
    initWeights: 'mam_adapter',
    scaling: 4,
    isParallel: true,
  },
};

export const ADAPTER_MERGE_REASON =
  'a bottleneck adapter puts a non-linear function (down-projection, activation, up-projection) between the sub-layer and its LayerNorm, which no change of the linear weights reproduces; save it with `export --adapter` instead';

function settings(p: PresetDefaults): SettingSpec[] {
  return [
    {
      key: 'reduction_factor',
      flag: 'reduction-factor',
      type: 'number',
      default: 16,
      min: 0,
      exclusiveMin: true,
      ask: true,
      description: 'Bottleneck size m = hidden_size // reduction_factor (16 on BERT-Base: m = 48); m must be at least 1.',
    },
    {
      key: 'non_linearity',
      flag: 'non-linearity',
      type: 'enum',
      values: NON_LINEARITIES,
      default: p.nonLinearity,
      ask: true,
      description: 'Activation between the projections (HF names: swish = silu = x·sigmoid(x), gelu = exact erf GELU, leakyrelu slope 0.01).',
    },
    { key: 'mh_adapter', flag: 'mh-adapter', type: 'boolean', default: p.mhAdapter, description: 'An adapter after the attention output projection of each layer.' },
    { key: 'output_adapter', flag: 'output-adapter', type: 'boolean', default: true, description: 'An adapter after the FFN output projection of each layer.' },
    {
      key: 'original_ln_before',
      flag: 'original-ln-before',
      type: 'boolean',
      default: p.originalLnBefore,
      description: "Sequential adapters: feed the adapter LN(h + r), the sub-layer's own add & norm, instead of h (ignored by the parallel adapter).",
    },
    {
      key: 'original_ln_after',
      flag: 'original-ln-after',
      type: 'boolean',
      default: true,
      description: "Apply the sub-layer's own LayerNorm with its residual after the adapter: LN(out + r); false: out alone.",
    },
    {
      key: 'residual_before_ln',
      flag: 'residual-before-ln',
      type: 'boolean',
      default: true,
      description: "Sequential adapters: the adapter's skip adds h (true) or the adapter's input (false; LN(h + r) with original_ln_before).",
    },
    { key: 'ln_before', flag: 'ln-before', type: 'boolean', default: false, description: "A new LayerNorm of the adapter's own on its input, before the down-projection." },
    { key: 'ln_after', flag: 'ln-after', type: 'boolean', default: false, description: "A new LayerNorm of the adapter's own on its output." },
    {
      key: 'adapter_residual_before_ln',
      flag: 'adapter-residual-before-ln',
      type: 'boolean',
      default: false,
      description: "Sequential adapters with ln_after: add the adapter's skip before its own output LayerNorm (true) or after it (false).",
    },
    {
      key: 'init_weights',
      flag: 'init-weights',
      type: 'enum',
      values: INIT_WEIGHTS,
      default: p.initWeights,
      description: 'bert: weights N(0, 0.02), biases 0; mam_adapter: down Kaiming-uniform(a=√5), up and all biases 0 (starts as the identity); houlsby: weights truncated N(0, 0.01) in ±0.02, biases 0.',
    },
    { key: 'scaling', flag: 'adapter-scaling', type: 'number', default: p.scaling, description: "Factor on the adapter's output (He et al.'s s; 4 for the parallel adapter)." },
    { key: 'dropout', flag: 'adapter-dropout', type: 'number', default: 0, min: 0, max: 1, exclusiveMax: true, description: "Dropout on the adapter's scaled output while training (AdapterHub's BnConfig.dropout)." },
    { key: 'leave_out', flag: 'leave-out', type: 'list', default: [], description: 'Layer indices (from 0) that get no adapter.' },
    {
      key: 'train_layer_norms',
      flag: 'train-layer-norms',
      type: 'boolean',
      default: false,
      description: "Also train the encoder layers' LayerNorms (Houlsby et al. do; AdapterHub's train_adapter does not).",
    },
    {
      key: 'adapter_name',
      flag: 'adapter-name',
      type: 'string',
      default: p.alias,
      description: 'The adapter\'s name inside parameter keys and adapter_config.json (`….adapters.<name>.adapter_up.weight`).',
    },
    {
      key: 'hidden_size',
      flag: 'adapter-hidden-size',
      type: 'integer',
      default: null,
      min: 1,
      description: "The base model's hidden size the adapter was made for (an imported adapter's hidden_size); a base of another size is refused. null: any.",
    },
  ];
}

function info(name: Preset): MethodInfo {
  const p = PRESETS[name];
  return { name, title: p.title, description: p.description, settings: settings(p), merge: ADAPTER_MERGE_REASON, adapterFormat: 'adapterhub', aliases: [p.alias] };
}

export const HOULSBY_INFO = info('houlsby');
export const PFEIFFER_INFO = info('pfeiffer');
export const PARALLEL_ADAPTER_INFO = info('parallel-adapter');
export const ADAPTER_INFOS: readonly MethodInfo[] = [HOULSBY_INFO, PFEIFFER_INFO, PARALLEL_ADAPTER_INFO];

/** Checked settings of a parsed spec (every default filled in by parseSettings). */
export function toBottleneckSettings(preset: Preset, spec: Record<string, unknown>): BottleneckSettings {
  const fail = (key: string, msg: string): never => {
    throw new PeftStudioError('BAD_INPUT', `method ${preset}: ${key} ${msg}`);
  };
  const leave = spec.leave_out as unknown[];
  if (!Array.isArray(leave) || leave.some((l) => !Number.isInteger(Number(l)) || Number(l) < 0)) fail('leave_out', `must be a list of layer indices, got ${JSON.stringify(leave)}`);
  const name = spec.adapter_name as string;
  if (!/^[A-Za-z0-9_-]+$/.test(name)) fail('adapter_name', `must be letters, digits, _ or - (it goes inside parameter names), got ${JSON.stringify(name)}`);
  const rf = spec.reduction_factor as number;
  const s: BottleneckSettings = {
    preset,
    adapterName: name,
    reductionFactor: rf,
    nonLinearity: spec.non_linearity as NonLinearity,
    mhAdapter: spec.mh_adapter as boolean,
    outputAdapter: spec.output_adapter as boolean,
    isParallel: PRESETS[preset].isParallel,
    originalLnBefore: spec.original_ln_before as boolean,
    originalLnAfter: spec.original_ln_after as boolean,
    residualBeforeLn: spec.residual_before_ln as boolean,
    lnBefore: spec.ln_before as boolean,
    lnAfter: spec.ln_after as boolean,
    adapterResidualBeforeLn: spec.adapter_residual_before_ln as boolean,
    initWeights: spec.init_weights as InitWeights,
    scaling: spec.scaling as number,
    dropout: spec.dropout as number,
    leaveOut: [...new Set(leave.map(Number))].sort((a, b) => a - b),
    trainLayerNorms: spec.train_layer_norms as boolean,
    hiddenSize: (spec.hidden_size as number | null) ?? null,
  };
  if (!s.mhAdapter && !s.outputAdapter) fail('mh_adapter / output_adapter', 'are both false: the adapter would sit nowhere');
  if (s.hiddenSize !== null) bottleneckSize(s, s.hiddenSize);
  return s;
}

/** m = hidden // reduction_factor (AdapterHub's `int(hidden_size // reduction_factor)`); refused below 1. */
export function bottleneckSize(s: Pick<BottleneckSettings, 'preset' | 'reductionFactor'>, hidden: number): number {
  const m = Math.floor(hidden / s.reductionFactor);
  if (!(m >= 1)) {
    throw new PeftStudioError(
      'BAD_INPUT',
      `method ${s.preset}: reduction_factor ${s.reductionFactor} leaves a bottleneck of ${m} units for hidden size ${hidden} (m = hidden_size // reduction_factor must be ≥ 1; use at most ${hidden})`,
    );
  }
  return m;
}
