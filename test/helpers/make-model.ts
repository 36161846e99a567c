/**
 * Generated HF model folders for tests: config.json as HF 4.30 writes it for the family, model.safetensors
 * (or shards + index) with HF tensor names and seeded random weights, and a tokenizer. The tensor list is
 * written out here from the HF module structure, not taken from the engine's schema, so a wrong name in
 * the engine shows up as a load failure instead of agreeing with itself.
 *
 * Tokenizers: vocab.txt + tokenizer_config.json for BERT / DistilBERT; for RoBERTa a byte-level BPE
 * vocab.json + merges.txt (what the slow RobertaTokenizer saves) when the vocabulary has room for the 256
 * byte symbols (vocab ≥ 300), else no tokenizer at all.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mulberry32 as rng } from '../../engine/data/rng';
import { serializeSafetensors, type TensorToWrite } from '../../engine/io/safetensors';

export type ModelFamily = 'bert' | 'roberta' | 'distilbert';

export interface MakeModelOptions {
  family: ModelFamily;
  /** `architectures[0]`; default `<Family>ForSequenceClassification`. `*Model` → no prefix, no head. */
  arch?: string;
  layers?: number;
  hidden?: number;
  heads?: number;
  intermediate?: number;
  vocab?: number;
  /** Usable positions; RoBERTa's config gets positions + 2 (its padding offset). */
  maxPositions?: number;
  numLabels?: number;
  problemType?: string;
  /** hidden_act (BERT/RoBERTa) or activation (DistilBERT). Default gelu. */
  act?: string;
  /** layer_norm_eps (not DistilBERT). Default 1e-12, RoBERTa 1e-5 as roberta-base. */
  layerNormEps?: number;
  seed?: number;
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Tensor names to leave out of the checkpoint. */
  omit?: string[];
  /** Extra tensors (e.g. `cls.predictions.*`); random normal data unless given. */
  extra?: Record<string, { shape: number[]; data?: Float32Array }>;
  /** Split into this many shards with model.safetensors.index.json. */
  sharded?: number;
  /** Explicit vocab.txt lines (BERT / DistilBERT). */
  vocabTokens?: string[];
}

export interface GeneratedTensor {
  shape: number[];
  /** Exactly the values stored (already rounded when dtype is F16 / BF16). */
  data: Float32Array;
}

export interface GeneratedModel {
  dir: string;
  config: Record<string, any>;
  /** Every float tensor in the checkpoint (int buffers such as position_ids left out). */
  tensors: Map<string, GeneratedTensor>;
}

/** The engine's seeded PRNG (mulberry32), re-exported for test data. */
export { rng };

function normal(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()); // Box–Muller
}

/**
 * Rounds to the nearest value with `mant` mantissa bits (ties to even), as a float32 → F16 (10 bits,
 * min normal exponent −14) or → BF16 (7 bits, −126) cast does. Written independently of the engine's codec.
 */
export function roundToHalf(x: number, dtype: 'F16' | 'BF16'): number {
  const [mant, emin] = dtype === 'F16' ? [10, -14] : [7, -126];
  if (x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1; // log2 rounding near powers of two
  else if (2 ** (e + 1) <= a) e += 1;
  const quantum = 2 ** (Math.max(e, emin) - mant);
  const r = a / quantum;
  const f = Math.floor(r);
  const q = r - f > 0.5 || (r - f === 0.5 && f % 2 === 1) ? f + 1 : f;
  return Math.sign(x) * q * quantum;
}

const CAP = { bert: 'Bert', roberta: 'Roberta', distilbert: 'DistilBert' } as const;

/** config.json as `save_pretrained` writes it in transformers 4.30 (keys sorted, class defaults included). */
function hfConfig(o: Required<Pick<MakeModelOptions, 'family' | 'arch' | 'layers' | 'hidden' | 'heads' | 'intermediate' | 'vocab' | 'maxPositions' | 'numLabels' | 'act' | 'dtype'>> & MakeModelOptions): Record<string, any> {
  const c: Record<string, any> = { architectures: [o.arch] };
  if (o.family === 'distilbert') {
    Object.assign(c, {
      activation: o.act, attention_dropout: 0.1, dim: o.hidden, dropout: 0.1, hidden_dim: o.intermediate,
      initializer_range: 0.02, max_position_embeddings: o.maxPositions, model_type: 'distilbert',
      n_heads: o.heads, n_layers: o.layers, pad_token_id: 0, qa_dropout: 0.1, seq_classif_dropout: 0.2,
      sinusoidal_pos_embds: false, tie_weights_: true,
    });
  } else {
    const roberta = o.family === 'roberta';
    Object.assign(c, {
      attention_probs_dropout_prob: 0.1,
      ...(roberta ? { bos_token_id: 0 } : {}),
      classifier_dropout: null,
      ...(roberta ? { eos_token_id: 2 } : {}),
      hidden_act: o.act, hidden_dropout_prob: 0.1, hidden_size: o.hidden, initializer_range: 0.02,
      intermediate_size: o.intermediate, layer_norm_eps: o.layerNormEps ?? (roberta ? 1e-5 : 1e-12),
      // RoBERTa's position ids start after padding_idx (1), so HF configs carry 2 extra positions.
      max_position_embeddings: roberta ? o.maxPositions + 2 : o.maxPositions,
      model_type: o.family, num_attention_heads: o.heads, num_hidden_layers: o.layers,
      pad_token_id: roberta ? 1 : 0, position_embedding_type: 'absolute',
    });
  }
  // PretrainedConfig.to_diff_dict writes the label maps only when they differ from the 2-label default.
  if (o.numLabels !== 2) {
    c.id2label = Object.fromEntries(Array.from({ length: o.numLabels }, (_, i) => [String(i), `LABEL_${i}`]));
    c.label2id = Object.fromEntries(Array.from({ length: o.numLabels }, (_, i) => [`LABEL_${i}`, i]));
  }
  if (o.problemType) c.problem_type = o.problemType;
  // The shared HF fixtures carry no torch_dtype for float32; half checkpoints say what they hold.
  if (o.dtype !== 'F32') c.torch_dtype = o.dtype === 'F16' ? 'float16' : 'bfloat16';
  c.transformers_version = '4.30.2';
  if (o.family !== 'distilbert') Object.assign(c, { type_vocab_size: o.family === 'roberta' ? 1 : 2, use_cache: true });
  c.vocab_size = o.vocab;
  return Object.fromEntries(Object.entries(c).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

type Init = 'normal' | 'ln-weight' | 'bias';

/** The tensors HF's module tree holds for this architecture, by state_dict name. */
function hfTensorList(c: Record<string, any>, family: ModelFamily, arch: string): { name: string; shape: number[]; init: Init }[] {
  const isBase = arch.endsWith('Model');
  const isClassifier = arch.endsWith('ForSequenceClassification');
  const p = isBase ? '' : `${family}.`;
  const out: { name: string; shape: number[]; init: Init }[] = [];
  const d = family === 'distilbert';
  const H: number = d ? c.dim : c.hidden_size;
  const I: number = d ? c.hidden_dim : c.intermediate_size;
  const labels = c.id2label ? Object.keys(c.id2label).length : 2;
  const lin = (name: string, o: number, i: number) => {
    out.push({ name: `${name}.weight`, shape: [o, i], init: 'normal' }, { name: `${name}.bias`, shape: [o], init: 'bias' });
  };
  const ln = (name: string) => {
    out.push({ name: `${name}.weight`, shape: [H], init: 'ln-weight' }, { name: `${name}.bias`, shape: [H], init: 'bias' });
  };
  out.push({ name: `${p}embeddings.word_embeddings.weight`, shape: [c.vocab_size, H], init: 'normal' });
  out.push({ name: `${p}embeddings.position_embeddings.weight`, shape: [c.max_position_embeddings, H], init: 'normal' });
  if (!d) out.push({ name: `${p}embeddings.token_type_embeddings.weight`, shape: [c.type_vocab_size, H], init: 'normal' });
  ln(`${p}embeddings.LayerNorm`);
  for (let l = 0; l < (d ? c.n_layers : c.num_hidden_layers); l++) {
    if (d) {
      const q = `${p}transformer.layer.${l}`;
      for (const m of ['q_lin', 'k_lin', 'v_lin', 'out_lin']) lin(`${q}.attention.${m}`, H, H);
      ln(`${q}.sa_layer_norm`);
      lin(`${q}.ffn.lin1`, I, H);
      lin(`${q}.ffn.lin2`, H, I);
      ln(`${q}.output_layer_norm`);
    } else {
      const q = `${p}encoder.layer.${l}`;
      for (const m of ['query', 'key', 'value']) lin(`${q}.attention.self.${m}`, H, H);
      lin(`${q}.attention.output.dense`, H, H);
      ln(`${q}.attention.output.LayerNorm`);
      lin(`${q}.intermediate.dense`, I, H);
      lin(`${q}.output.dense`, H, I);
      ln(`${q}.output.LayerNorm`);
    }
  }
  // Poolers: BertModel, RobertaModel, BertForSequenceClassification / ForPreTraining / ForNextSentencePrediction.
  const pooler =
    !d && (isBase || (family === 'bert' && /ForSequenceClassification|ForPreTraining|ForNextSentencePrediction/.test(arch)));
  if (pooler) lin(`${p}pooler.dense`, H, H);
  if (isClassifier) {
    if (family === 'bert') lin('classifier', labels, H);
    if (family === 'roberta') {
      lin('classifier.dense', H, H);
      lin('classifier.out_proj', labels, H);
    }
    if (d) {
      lin('pre_classifier', H, H);
      lin('classifier', labels, H);
    }
  }
  return out;
}

const createdDirs: string[] = [];

/** Deletes every folder makeModelDir created in this process (call from an `after` hook). */
export function removeModelDirs(): void {
  for (const d of createdDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export function makeModelDir(opts: MakeModelOptions): GeneratedModel {
  const family = opts.family;
  const o = {
    ...opts,
    arch: opts.arch ?? `${CAP[family]}ForSequenceClassification`,
    layers: opts.layers ?? 2,
    hidden: opts.hidden ?? 32,
    heads: opts.heads ?? 4,
    intermediate: opts.intermediate ?? 4 * (opts.hidden ?? 32),
    vocab: opts.vocab ?? (family === 'roberta' ? 300 : 120),
    maxPositions: opts.maxPositions ?? 64,
    numLabels: opts.numLabels ?? 2,
    act: opts.act ?? 'gelu',
    dtype: opts.dtype ?? 'F32',
  };
  const config = hfConfig(o);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `peft-${family}-`));
  createdDirs.push(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');

  const rand = rng(opts.seed ?? 1);
  const gauss = normal(rand);
  const omit = new Set(opts.omit ?? []);
  const tensors = new Map<string, GeneratedTensor>();
  const specs: { name: string; shape: number[]; init: Init | 'given'; data?: Float32Array }[] = [
    ...hfTensorList(config, family, o.arch),
    ...Object.entries(opts.extra ?? {}).map(([name, t]) => ({ name, shape: t.shape, init: (t.data ? 'given' : 'normal') as Init | 'given', data: t.data })),
  ];
  for (const s of specs) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    let data = s.data ? Float32Array.from(s.data) : new Float32Array(size);
    if (!s.data) {
      // std 0.1 everywhere, LayerNorm gains 1 + noise: no term is trivially 0 or 1, so ignoring one shows.
      for (let i = 0; i < size; i++) data[i] = (s.init === 'ln-weight' ? 1 : 0) + 0.1 * gauss();
    }
    if (o.dtype !== 'F32') data = data.map((v) => roundToHalf(v, o.dtype as 'F16' | 'BF16'));
    if (!omit.has(s.name)) tensors.set(s.name, { shape: s.shape, data });
  }

  const toWrite: TensorToWrite[] = [];
  // transformers 4.30 still saves BERT/RoBERTa's position_ids buffer (int64); loaders must skip it.
  if (family !== 'distilbert') {
    const name = `${o.arch.endsWith('Model') ? '' : `${family}.`}embeddings.position_ids`;
    const n = config.max_position_embeddings as number;
    if (!omit.has(name)) toWrite.push({ name, dtype: 'I64', shape: [1, n], data: Int32Array.from({ length: n }, (_, i) => i) });
  }
  for (const [name, t] of tensors) toWrite.push({ name, dtype: o.dtype, shape: t.shape, data: t.data });
  writeWeights(dir, toWrite, opts.sharded);
  writeTokenizer(dir, family, o.vocab, opts.vocabTokens);
  return { dir, config, tensors };
}

function writeWeights(dir: string, list: TensorToWrite[], shards?: number): void {
  const meta = { format: 'pt' }; // what transformers writes into __metadata__
  if (!shards || shards <= 1) {
    fs.writeFileSync(path.join(dir, 'model.safetensors'), serializeSafetensors(list, meta));
    return;
  }
  const weightMap: Record<string, string> = {};
  let total = 0;
  const per = Math.ceil(list.length / shards);
  for (let s = 0; s < shards; s++) {
    const part = list.slice(s * per, (s + 1) * per);
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    for (const t of part) {
      weightMap[t.name] = file;
      total += t.data.length * ({ F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 } as const)[t.dtype];
    }
    fs.writeFileSync(path.join(dir, file), serializeSafetensors(part, meta));
  }
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify(index, null, 2) + '\n');
}

/** The real bert-base-uncased vocab, wherever the shared folder keeps it. */
const REAL_VOCABS = ['vocab/bert-base-uncased/vocab.txt', 'fixtures/tok-bert-base-uncased/vocab.txt'].map((p) =>
  path.resolve(__dirname, '../../../shared', p),
);

function writeTokenizer(dir: string, family: ModelFamily, vocabSize: number, vocabTokens?: string[]): void {
  if (family === 'roberta') return writeRobertaTokenizer(dir, vocabSize);
  let lines = vocabTokens;
  const real = REAL_VOCABS.find((p) => fs.existsSync(p));
  if (!lines && vocabSize >= 30522 && real) lines = fs.readFileSync(real, 'utf8').split('\n').filter((l) => l !== '');
  if (!lines) {
    const words = ['the', 'a', 'is', 'movie', 'good', 'bad', 'not', 'very', 'film', 'great', 'and', 'it', '.', ',', '!', '?'];
    lines = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...words];
    for (let c = 97; c <= 122 && lines.length < vocabSize; c++) lines.push(String.fromCharCode(c), `##${String.fromCharCode(c)}`);
    for (let i = 0; lines.length < vocabSize; i++) lines.push(`word${i}`);
    lines = lines.slice(0, Math.max(vocabSize, 5));
  }
  fs.writeFileSync(path.join(dir, 'vocab.txt'), lines.join('\n') + '\n');
  const tokenizerConfig = {
    clean_up_tokenization_spaces: true, cls_token: '[CLS]', do_lower_case: true, mask_token: '[MASK]',
    model_max_length: 512, pad_token: '[PAD]', sep_token: '[SEP]', strip_accents: null, tokenize_chinese_chars: true,
    tokenizer_class: family === 'distilbert' ? 'DistilBertTokenizer' : 'BertTokenizer', unk_token: '[UNK]',
  };
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
}

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
function byteSymbols(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return cs.map((c) => String.fromCharCode(c));
}

/** A minimal byte-level BPE: <s> <pad> </s> <unk>, the 256 byte symbols, a few merges, <mask> last. */
function writeRobertaTokenizer(dir: string, vocabSize: number): void {
  const merges = ['Ġ t', 'h e', 'Ġt he', 'Ġ a', 'i s', 'Ġ is', 'o o', 'g oo', 'goo d', 'Ġ good', 'Ġ m', 'o v', 'i e', 'Ġm ov', 'Ġmov ie'];
  const tokens = ['<s>', '<pad>', '</s>', '<unk>', ...byteSymbols(), ...merges.map((m) => m.replace(' ', ''))];
  if (tokens.length + 1 > vocabSize) return; // no room for a byte-level vocabulary: no tokenizer
  tokens.push('<mask>');
  fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(Object.fromEntries(tokens.map((t, i) => [t, i]))));
  fs.writeFileSync(path.join(dir, 'merges.txt'), ['#version: 0.2', ...merges].join('\n') + '\n');
  const tokenizerConfig = {
    add_prefix_space: false, bos_token: '<s>', clean_up_tokenization_spaces: true, cls_token: '<s>', eos_token: '</s>',
    errors: 'replace', mask_token: '<mask>', model_max_length: 512, pad_token: '<pad>', sep_token: '</s>',
    tokenizer_class: 'RobertaTokenizer', trim_offsets: true, unk_token: '<unk>',
  };
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
}

export interface RandomBatch {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
}

/**
 * B rows of T ids, the first full length and the rest padded to random lengths (≥ 2). Content ids are
 * drawn from [firstId, vocab) and never equal padId (RoBERTa would treat them as padding for positions).
 * With `pairs`, each row is two segments and token_type_ids marks the second with 1 (padding stays 0).
 * `cls` / `sep` put special ids at the start / segment ends.
 */
export function randomBatch(
  seed: number, B: number, T: number, vocab: number, padId: number,
  opts: { pairs?: boolean; cls?: number; sep?: number; firstId?: number } = {},
): RandomBatch {
  const rand = rng(seed * 7919 + 17);
  const firstId = opts.firstId ?? 5;
  const pick = (): number => {
    for (;;) {
      const id = firstId + Math.floor(rand() * (vocab - firstId));
      if (id !== padId) return id;
    }
  };
  const batch: RandomBatch = { input_ids: [], attention_mask: [], token_type_ids: [] };
  for (let b = 0; b < B; b++) {
    const len = b === 0 ? T : 2 + Math.floor(rand() * (T - 1));
    const split = opts.pairs ? 1 + Math.floor(rand() * (len - 1)) : len; // second segment starts here
    const ids: number[] = [];
    const types: number[] = [];
    for (let t = 0; t < T; t++) {
      if (t >= len) {
        ids.push(padId);
        types.push(0);
        continue;
      }
      let id = pick();
      if (t === 0 && opts.cls !== undefined) id = opts.cls;
      if ((t === len - 1 || t === split - 1) && opts.sep !== undefined && t > 0) id = opts.sep;
      ids.push(id);
      types.push(t >= split ? 1 : 0);
    }
    batch.input_ids.push(ids);
    batch.attention_mask.push(ids.map((_, t) => (t < len ? 1 : 0)));
    batch.token_type_ids.push(types);
  }
  return batch;
}
