/**
 * The tensors a model of a given config must have, by HF checkpoint name and shape. The loader checks a
 * checkpoint against this list (missing, unexpected, wrong shape), fresh heads are initialised from it, and
 * `inspect` counts parameters with it, so there is one statement of "what BERT is made of".
 */
import type { EncoderConfig, HeadKind } from './config';

/** How HF's `_init_weights` fills a tensor that the checkpoint lacks. */
export type InitKind = 'normal' | 'zeros' | 'ones';

export interface ParamSpec {
  name: string;
  shape: number[];
  init: InitKind;
  /** Part of the pretrained encoder (must come from the checkpoint) vs. a task head (may be fresh). */
  part: 'encoder' | 'pooler' | 'head';
}

/** `bert.` / `roberta.` / `distilbert.` for task models, '' for the bare base model, as HF names them. */
export function basePrefixFor(c: EncoderConfig, head: HeadKind): string {
  return head === 'none' ? '' : `${c.family}.`;
}

/** BertModel and RobertaModel have a pooler; RobertaForSequenceClassification and DistilBERT do not. */
export function hasPooler(c: EncoderConfig, head: HeadKind): boolean {
  if (c.family === 'distilbert') return false;
  if (c.family === 'roberta') return head === 'none';
  return true;
}

export function expectedParams(c: EncoderConfig, head: HeadKind): ParamSpec[] {
  const base = basePrefixFor(c, head);
  const H = c.hiddenSize;
  const out: ParamSpec[] = [];
  const lin = (name: string, outDim: number, inDim: number, part: ParamSpec['part']) => {
    out.push({ name: `${name}.weight`, shape: [outDim, inDim], init: 'normal', part });
    out.push({ name: `${name}.bias`, shape: [outDim], init: 'zeros', part });
  };
  const norm = (name: string, part: ParamSpec['part'] = 'encoder') => {
    out.push({ name: `${name}.weight`, shape: [H], init: 'ones', part });
    out.push({ name: `${name}.bias`, shape: [H], init: 'zeros', part });
  };
  const emb = (name: string, rows: number) =>
    out.push({ name: `${base}embeddings.${name}.weight`, shape: [rows, H], init: 'normal', part: 'encoder' });

  emb('word_embeddings', c.vocabSize);
  emb('position_embeddings', c.maxPositionEmbeddings);
  if (c.family !== 'distilbert') emb('token_type_embeddings', c.typeVocabSize);
  norm(`${base}embeddings.LayerNorm`);

  for (let i = 0; i < c.numHiddenLayers; i++) {
    if (c.family === 'distilbert') {
      const l = `${base}transformer.layer.${i}`;
      for (const m of ['q_lin', 'k_lin', 'v_lin', 'out_lin']) lin(`${l}.attention.${m}`, H, H, 'encoder');
      norm(`${l}.sa_layer_norm`);
      lin(`${l}.ffn.lin1`, c.intermediateSize, H, 'encoder');
      lin(`${l}.ffn.lin2`, H, c.intermediateSize, 'encoder');
      norm(`${l}.output_layer_norm`);
    } else {
      const l = `${base}encoder.layer.${i}`;
      for (const m of ['query', 'key', 'value']) lin(`${l}.attention.self.${m}`, H, H, 'encoder');
      lin(`${l}.attention.output.dense`, H, H, 'encoder');
      norm(`${l}.attention.output.LayerNorm`);
      lin(`${l}.intermediate.dense`, c.intermediateSize, H, 'encoder');
      lin(`${l}.output.dense`, H, c.intermediateSize, 'encoder');
      norm(`${l}.output.LayerNorm`);
    }
  }
  if (hasPooler(c, head)) lin(`${base}pooler.dense`, H, H, 'pooler');

  if (head === 'sequence-classification') {
    if (c.family === 'bert') lin('classifier', c.numLabels, H, 'head');
    if (c.family === 'roberta') {
      lin('classifier.dense', H, H, 'head');
      lin('classifier.out_proj', c.numLabels, H, 'head');
    }
    if (c.family === 'distilbert') {
      lin('pre_classifier', H, H, 'head');
      lin('classifier', c.numLabels, H, 'head');
    }
  }
  return out;
}

/**
 * Checkpoint tensors we recognise and deliberately leave out: pretraining heads (MLM / NSP / distillation
 * vocab heads) and non-learned buffers. Anything else unexpected is an error, listed by name.
 */
export function isKnownIgnorable(name: string): boolean {
  return (
    /(^|\.)embeddings\.(position_ids|token_type_ids)$/.test(name) ||
    /^cls\.(predictions|seq_relationship)\./.test(name) ||
    /^lm_head\./.test(name) ||
    /^(vocab_transform|vocab_layer_norm|vocab_projector)\./.test(name)
  );
}

/** Task heads from other HF classes: ignored (with a notice) when loading into a different head. */
export function isOtherTaskHead(name: string): boolean {
  return /^(classifier|pre_classifier|qa_outputs)\./.test(name);
}
