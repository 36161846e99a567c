/**
 * Where a bias lives: its row (embeddings, layer i, pooler, classifier) and its kind (query … output
 * LayerNorm). The CLI's tables, BitFit's subsets and the dashboard's heatmap all use this one mapping, and
 * they keep the HF name alongside, so a cell can always be traced back to a checkpoint tensor.
 */
import type { EncoderModel } from './model';

/** Column order of the heatmap, the order of the BitFit paper's figure. */
export const BIAS_KINDS = [
  'query',
  'key',
  'value',
  'attention.output',
  'attention.LayerNorm',
  'intermediate',
  'output',
  'output.LayerNorm',
] as const;
export type LayerBiasKind = (typeof BIAS_KINDS)[number];
export type BiasKind = LayerBiasKind | 'embeddings.LayerNorm' | 'pooler' | 'head';

export interface BiasInfo {
  name: string;
  /** 'embeddings', 'layer.3', 'pooler' or 'classifier'. */
  row: string;
  /** Encoder layer index, -1 for rows outside the encoder layers. */
  layer: number;
  kind: BiasKind;
  size: number;
}

const LAYER_KINDS: Array<[RegExp, LayerBiasKind]> = [
  [/\.attention\.self\.query\.bias$|\.attention\.q_lin\.bias$/, 'query'],
  [/\.attention\.self\.key\.bias$|\.attention\.k_lin\.bias$/, 'key'],
  [/\.attention\.self\.value\.bias$|\.attention\.v_lin\.bias$/, 'value'],
  [/\.attention\.output\.dense\.bias$|\.attention\.out_lin\.bias$/, 'attention.output'],
  [/\.attention\.output\.LayerNorm\.bias$|\.sa_layer_norm\.bias$/, 'attention.LayerNorm'],
  [/\.intermediate\.dense\.bias$|\.ffn\.lin1\.bias$/, 'intermediate'],
  [/\.output\.dense\.bias$|\.ffn\.lin2\.bias$/, 'output'],
  [/\.output\.LayerNorm\.bias$|\.output_layer_norm\.bias$/, 'output.LayerNorm'],
];

export function classifyBias(name: string): Omit<BiasInfo, 'size'> | undefined {
  if (!name.endsWith('.bias')) return undefined;
  const layerMatch = /(?:^|\.)(?:encoder|transformer)\.layer\.(\d+)\./.exec(name);
  if (layerMatch) {
    const layer = Number(layerMatch[1]);
    for (const [re, kind] of LAYER_KINDS) if (re.test(name)) return { name, row: `layer.${layer}`, layer, kind };
    return undefined;
  }
  if (/(?:^|\.)embeddings\.LayerNorm\.bias$/.test(name)) return { name, row: 'embeddings', layer: -1, kind: 'embeddings.LayerNorm' };
  if (/(?:^|\.)pooler\.dense\.bias$/.test(name)) return { name, row: 'pooler', layer: -1, kind: 'pooler' };
  if (/^(classifier|pre_classifier)\./.test(name)) return { name, row: 'classifier', layer: -1, kind: 'head' };
  return undefined;
}

/** Every bias of the model in checkpoint order, with its row and kind. */
export function listBiases(model: EncoderModel): BiasInfo[] {
  const out: BiasInfo[] = [];
  for (const spec of model.specs) {
    const info = classifyBias(spec.name);
    if (info) out.push({ ...info, size: spec.shape.reduce((a, b) => a * b, 1) });
  }
  return out;
}
