/**
 * What `inspect` shows about a model: its shape, its parameter count, and what BitFit would train, in the
 * format of HF PEFT's `print_trainable_parameters` so the numbers read the same as in a notebook.
 */
import { listBiases, type BiasInfo } from '../model/biases';
import type { EncoderModel } from '../model/model';
import { linearModules } from '../model/modules';
import { selectBitFit, type BitFitConfig } from '../peft/bitfit/config';
import { LORA_INFO, selectTargets, toLoraSettings } from '../peft/lora/config';
import { parseSettings } from '../peft/settings';

export interface TrainableCount {
  label: string;
  trainable: number;
  total: number;
  percent: number;
}

export interface ModelSummary {
  family: string;
  architecture: string;
  head: string;
  layers: number;
  hiddenSize: number;
  heads: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  numLabels: number;
  labels: string[];
  parameters: number;
  biases: { count: number; parameters: number; byRow: Record<string, BiasInfo[]> };
  bitfit: TrainableCount[];
  /** Other methods at their defaults (LoRA r 8 on query + value, with the classifier). */
  methods: TrainableCount[];
}

export const BITFIT_VARIANTS: Array<{ label: string; config: BitFitConfig }> = [
  { label: 'BitFit, all biases', config: { biasTerms: ['all'], trainHead: false } },
  { label: 'BitFit, all biases + classifier head', config: { biasTerms: ['all'], trainHead: true } },
  { label: 'BitFit, query + intermediate (paper\'s sparse subset) + head', config: { biasTerms: ['sparse'], trainHead: true } },
];

export function summarize(model: EncoderModel): ModelSummary {
  const c = model.config;
  const base = new Set(model.specs.map((sp) => sp.name));
  const total = model.numParameters((n) => base.has(n)); // the base model's own, without an adapter's tensors
  const names = model.params.names();
  const biases = listBiases(model);
  const byRow: Record<string, BiasInfo[]> = {};
  for (const b of biases) (byRow[b.row] ??= []).push(b);
  const bitfit = BITFIT_VARIANTS.filter((v) => model.head !== 'none' || !v.config.trainHead).map(({ label, config }) => {
    const chosen = new Set(selectBitFit(names, config).trainable);
    const trainable = model.numParameters((n) => chosen.has(n));
    return { label, trainable, total, percent: (100 * trainable) / total };
  });
  const methods: TrainableCount[] = [];
  if (model.head !== 'none') {
    const lora = toLoraSettings(parseSettings(LORA_INFO, { name: 'lora' }));
    try {
      const targets = selectTargets(linearModules(model), lora);
      const shapes = new Map(model.specs.map((sp) => [sp.name, sp.shape]));
      const low = targets.reduce((a, m) => a + lora.r * shapes.get(`${m}.weight`)!.reduce((x, y) => x + y, 0), 0);
      const head = model.numParameters((n) => /^classifier\./.test(n));
      methods.push({ label: `LoRA r ${lora.r} on ${targets.length} modules (query, value) + classifier`, trainable: low + head, total: total + low, percent: (100 * (low + head)) / (total + low) });
    } catch {
      // a model whose modules LoRA's default targets do not name: no line
    }
    methods.push({ label: 'Full fine-tuning', trainable: total, total, percent: 100 });
  }
  return {
    family: c.family,
    architecture: c.architecture,
    head: model.head,
    layers: c.numHiddenLayers,
    hiddenSize: c.hiddenSize,
    heads: c.numAttentionHeads,
    intermediateSize: c.intermediateSize,
    vocabSize: c.vocabSize,
    maxPositions: c.maxPositionEmbeddings,
    numLabels: c.numLabels,
    labels: Array.from({ length: c.numLabels }, (_, i) => c.id2label[i] ?? String(i)),
    parameters: total,
    biases: { count: biases.length, parameters: biases.reduce((a, b) => a + b.size, 0), byRow },
    bitfit,
    methods,
  };
}

/** HF PEFT's line: `trainable params: 1,538 || all params: 607,362 || trainable%: 0.2532`. */
export function formatTrainable(t: Pick<TrainableCount, 'trainable' | 'total' | 'percent'>): string {
  return `trainable params: ${t.trainable.toLocaleString('en-US')} || all params: ${t.total.toLocaleString('en-US')} || trainable%: ${t.percent.toFixed(4)}`;
}
