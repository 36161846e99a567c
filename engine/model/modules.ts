/**
 * Linear modules and their place in the what-moved grid. A module is named by its HF path without
 * `.weight` (`bert.encoder.layer.0.attention.self.query`), as PEFT's `target_modules` matching sees it.
 */
import type { EncoderModel } from './model';

/** Grid columns of the dense layers inside an encoder layer, in the order of a layer's computation. */
export const LAYER_MODULE_KINDS = ['query', 'key', 'value', 'attention.output', 'intermediate', 'output'] as const;

const KIND_OF: Array<[RegExp, string]> = [
  [/\.attention\.self\.query$|\.attention\.q_lin$/, 'query'],
  [/\.attention\.self\.key$|\.attention\.k_lin$/, 'key'],
  [/\.attention\.self\.value$|\.attention\.v_lin$/, 'value'],
  [/\.attention\.output\.dense$|\.attention\.out_lin$/, 'attention.output'],
  [/\.intermediate\.dense$|\.ffn\.lin1$/, 'intermediate'],
  [/\.output\.dense$|\.ffn\.lin2$/, 'output'],
  [/\.attention\.output\.LayerNorm$|\.sa_layer_norm$/, 'attention.LayerNorm'],
  [/\.output\.LayerNorm$|\.output_layer_norm$/, 'output.LayerNorm'],
  [/(?:^|\.)pooler\.dense$/, 'pooler'],
  [/^(?:classifier|pre_classifier)(?:\.|$)/, 'head'],
  [/(?:^|\.)embeddings\./, 'embeddings'],
];

/** The grid column of a module (or of a tensor, with its `.weight` / `.bias`). */
export function moduleKind(name: string): string {
  const module = name.replace(/\.(weight|bias)$/, '');
  for (const [re, kind] of KIND_OF) if (re.test(module)) return kind;
  return 'other';
}

/** Every linear (2-D weight) module of the model, in checkpoint order, embeddings excluded. */
export function linearModules(model: EncoderModel): string[] {
  return model.specs
    .filter((s) => s.shape.length === 2 && s.name.endsWith('.weight') && !/(?:^|\.)embeddings\./.test(s.name))
    .map((s) => s.name.slice(0, -'.weight'.length));
}
