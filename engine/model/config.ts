/**
 * One normalised view of an HF `config.json` for the three encoder families we run. Field names follow
 * BertConfig (DistilBERT's `dim`/`n_layers`/… are mapped onto them) so the model code has one vocabulary.
 *
 * Shape-defining fields are required: HF would silently fall back to bert-base sizes and then fail later
 * with a confusing shape mismatch, so we stop early and name the field instead. Everything else takes
 * HF's class default, exactly as `from_pretrained` does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeftStudioError } from '../errors';

export type Family = 'bert' | 'roberta' | 'distilbert';
export type ProblemType = 'single_label_classification' | 'multi_label_classification' | 'regression';
export type HiddenAct = 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'relu' | 'silu' | 'tanh';

/** What sits on top of the encoder, from `architectures[0]`. Pretraining heads are loaded as `none`. */
export type HeadKind = 'none' | 'sequence-classification';

export interface EncoderConfig {
  family: Family;
  /** `architectures[0]` as written (e.g. `BertForMaskedLM`), or the family's base model name. */
  architecture: string;
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  hiddenAct: HiddenAct;
  maxPositionEmbeddings: number;
  /** 0 for DistilBERT, which has no token-type embeddings. */
  typeVocabSize: number;
  layerNormEps: number;
  padTokenId: number;
  /** Std of the normal init HF uses for fresh heads (`_init_weights`). */
  initializerRange: number;
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  /** Dropout before the classifier; HF falls back to hidden dropout when null. */
  classifierDropout: number;
  numLabels: number;
  /** Null when config.json leaves it open: HF then infers it from num_labels and the label dtype. */
  problemType: ProblemType | null;
  id2label: Record<number, string>;
  label2id: Record<string, number>;
  /** The parsed JSON, kept so exports can write it back with only our changes applied. */
  raw: Record<string, unknown>;
}

const SUPPORTED_ACTS: HiddenAct[] = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'silu', 'tanh'];

/**
 * Upper bounds on the size fields, checked before anything is sized from them. Far above any published
 * BERT-family encoder (BERT-Large: 24 layers, hidden 1024, vocabulary 30,522), far below what would make
 * a corrupt or hostile config.json allocate without end. Weights must also hold at least the parameters the
 * config implies (load.ts), so a config cannot describe more model than its files contain.
 */
export const CONFIG_LIMITS = {
  vocab_size: 10_000_000,
  hidden_size: 65_536,
  num_hidden_layers: 1_000,
  num_attention_heads: 65_536,
  intermediate_size: 1_048_576,
  max_position_embeddings: 1_048_576,
  type_vocab_size: 65_536,
  num_labels: 10_000,
} as const;

/** Where a family spells a BERT field differently (DistilBERT's `dim`, `n_layers`, …). */
const DISTILBERT_NAMES: Partial<Record<keyof typeof CONFIG_LIMITS, string>> = {
  hidden_size: 'dim',
  num_hidden_layers: 'n_layers',
  num_attention_heads: 'n_heads',
  intermediate_size: 'hidden_dim',
};

/** The model classes each family's checkpoints may name in `architectures`. */
const ARCH_PREFIX: Record<Family, RegExp> = { bert: /^Bert[A-Z]/, roberta: /^Roberta[A-Z]/, distilbert: /^DistilBert[A-Z]/ };

export function readConfig(dir: string): EncoderConfig {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) {
    throw new PeftStudioError('MISSING_FILE', `${file}: not found — a HuggingFace model folder needs config.json`, file);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new PeftStudioError('BAD_CONFIG', `${file}: not valid JSON (${(e as Error).message})`, file);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new PeftStudioError('BAD_CONFIG', `${file}: expected a JSON object`, file);
  }
  return parseConfig(raw as Record<string, unknown>, file);
}

export function parseConfig(raw: Record<string, unknown>, file = 'config.json'): EncoderConfig {
  const family = detectFamily(raw, file);
  const architecture = parseArchitecture(raw.architectures, family, file);

  const d = family === 'distilbert';
  const num = (key: string, fallback?: number): number => {
    const v = raw[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new PeftStudioError('BAD_CONFIG', `${file}: missing required field "${key}"`, file);
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new PeftStudioError('BAD_CONFIG', `${file}: field "${key}" must be a number, got ${JSON.stringify(v)}`, file);
    }
    return v;
  };
  const int = (key: string, fallback?: number, max?: number): number => {
    const v = num(key, fallback);
    if (!Number.isInteger(v) || v < 0) {
      throw new PeftStudioError('BAD_CONFIG', `${file}: field "${key}" must be a non-negative integer, got ${v}`, file);
    }
    if (max !== undefined && v > max) {
      throw new PeftStudioError('BAD_CONFIG', `${file}: field "${key}" is ${v}, above the limit of ${max.toLocaleString('en-US')} for this field; the file is corrupt or not a BERT-family config`, file);
    }
    return v;
  };
  /** A size field under the family's own name, bounded by CONFIG_LIMITS. */
  const size = (key: keyof typeof CONFIG_LIMITS, fallback?: number): number =>
    int((d && DISTILBERT_NAMES[key]) || key, fallback, CONFIG_LIMITS[key]);
  /** A float that must lie in [lo, hi) (or (lo, hi) with `open`), naming the field when it does not. */
  const ranged = (key: string, fallback: number, lo: number, hi: number, open = false): number => {
    const v = num(key, fallback);
    if (!(open ? v > lo : v >= lo) || !(v < hi)) {
      throw new PeftStudioError('BAD_CONFIG', `${file}: field "${key}" must be ${open ? '>' : '≥'} ${lo} and < ${hi}, got ${v}`, file);
    }
    return v;
  };

  const { id2label, label2id, numLabels } = parseLabels(raw, file);
  const hiddenDropoutProb = ranged(d ? 'dropout' : 'hidden_dropout_prob', 0.1, 0, 1);
  const classifierKey = d ? 'seq_classif_dropout' : 'classifier_dropout';
  const config: EncoderConfig = {
    family,
    architecture,
    vocabSize: size('vocab_size'),
    hiddenSize: size('hidden_size'),
    numHiddenLayers: size('num_hidden_layers'),
    numAttentionHeads: size('num_attention_heads'),
    intermediateSize: size('intermediate_size'),
    hiddenAct: parseAct(raw[d ? 'activation' : 'hidden_act'] ?? 'gelu', file),
    maxPositionEmbeddings: size('max_position_embeddings', 512),
    typeVocabSize: d ? 0 : size('type_vocab_size', 2),
    // DistilBERT hard-codes 1e-12 in its modules; config.json has no field for it. Elsewhere it is the
    // epsilon under a square root: it must be positive (and is never near 1 in a real checkpoint).
    layerNormEps: d ? 1e-12 : ranged('layer_norm_eps', 1e-12, 0, 1, true),
    padTokenId: int('pad_token_id', family === 'roberta' ? 1 : 0),
    initializerRange: ranged('initializer_range', 0.02, 0, 10),
    hiddenDropoutProb,
    attentionProbsDropoutProb: ranged(d ? 'attention_dropout' : 'attention_probs_dropout_prob', 0.1, 0, 1),
    classifierDropout: ranged(classifierKey, d ? 0.2 : hiddenDropoutProb, 0, 1),
    numLabels,
    problemType: parseProblemType(raw.problem_type, file),
    id2label,
    label2id,
    raw,
  };
  validate(config, raw, file);
  return config;
}

function detectFamily(raw: Record<string, unknown>, file: string): Family {
  if (raw.model_type !== undefined && raw.model_type !== null && typeof raw.model_type !== 'string') {
    throw new PeftStudioError('BAD_CONFIG', `${file}: field "model_type" must be a string such as "bert", got ${JSON.stringify(raw.model_type)}`, file);
  }
  const modelType = typeof raw.model_type === 'string' ? raw.model_type : undefined;
  const arch = Array.isArray(raw.architectures) ? String(raw.architectures[0] ?? '') : '';
  const byType: Record<string, Family> = { bert: 'bert', roberta: 'roberta', distilbert: 'distilbert' };
  if (modelType !== undefined) {
    const fam = Object.hasOwn(byType, modelType) ? byType[modelType] : undefined; // never "constructor" of a plain object
    if (!fam) {
      throw new PeftStudioError(
        'UNSUPPORTED',
        `${file}: model_type "${modelType}" is not supported (supported: bert, roberta, distilbert)`,
        file,
      );
    }
    return fam;
  }
  if (arch.startsWith('DistilBert')) return 'distilbert';
  if (arch.startsWith('Roberta')) return 'roberta';
  if (arch.startsWith('Bert')) return 'bert';
  throw new PeftStudioError(
    'BAD_CONFIG',
    `${file}: missing "model_type" and no recognisable "architectures" entry — cannot tell which model this is`,
    file,
  );
}

/** `architectures[0]`, which must be a model class of the family (the family's base model when absent). */
function parseArchitecture(v: unknown, family: Family, file: string): string {
  const base = { bert: 'BertModel', roberta: 'RobertaModel', distilbert: 'DistilBertModel' }[family];
  if (v === undefined || v === null) return base;
  if (!Array.isArray(v) || !v.every((a) => typeof a === 'string')) {
    throw new PeftStudioError('BAD_CONFIG', `${file}: field "architectures" must be a list of model class names, got ${JSON.stringify(v)}`, file);
  }
  if (v.length === 0) return base;
  const arch = v[0] as string;
  if (!ARCH_PREFIX[family].test(arch)) {
    throw new PeftStudioError(
      'UNSUPPORTED',
      `${file}: field "architectures" names ${JSON.stringify(arch)}, which is not a ${family} model class (expected e.g. ${base} or ${base.replace(/Model$/, 'ForSequenceClassification')})`,
      file,
    );
  }
  return arch;
}

function parseAct(v: unknown, file: string): HiddenAct {
  if (typeof v === 'string' && (SUPPORTED_ACTS as string[]).includes(v)) return v as HiddenAct;
  throw new PeftStudioError(
    'UNSUPPORTED',
    `${file}: activation ${JSON.stringify(v)} is not supported (supported: ${SUPPORTED_ACTS.join(', ')})`,
    file,
  );
}

function parseProblemType(v: unknown, file: string): ProblemType | null {
  if (v === undefined || v === null) return null;
  if (v === 'single_label_classification' || v === 'multi_label_classification' || v === 'regression') return v;
  throw new PeftStudioError('BAD_CONFIG', `${file}: unknown problem_type ${JSON.stringify(v)}`, file);
}

/**
 * HF's PretrainedConfig: id2label wins and sets num_labels; else num_labels (default 2) makes LABEL_i.
 * id2label must map the ids 0…n−1 to distinct names; label2id, when present, must agree with it.
 */
function parseLabels(raw: Record<string, unknown>, file: string) {
  const bad = (msg: string) => new PeftStudioError('BAD_CONFIG', `${file}: ${msg}`, file);
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  let id2label: Record<number, string> = {};
  if (raw.id2label !== undefined && raw.id2label !== null) {
    if (!isMap(raw.id2label)) throw bad(`field "id2label" must be an object of label id → name, got ${JSON.stringify(raw.id2label)}`);
    const entries = Object.entries(raw.id2label);
    if (entries.length > CONFIG_LIMITS.num_labels) throw bad(`field "id2label" has ${entries.length} entries, above the limit of ${CONFIG_LIMITS.num_labels}`);
    for (const [k, v] of entries) {
      const id = Number(k);
      if (!/^\d+$/.test(k) || !Number.isInteger(id) || id < 0) {
        throw bad(`id2label key "${k}" is not a label id`);
      }
      if (typeof v !== 'string' || v === '') throw bad(`id2label "${k}" must be a non-empty label name, got ${JSON.stringify(v)}`);
      id2label[id] = v;
    }
    const n = entries.length;
    const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !(i in id2label));
    if (missing.length) throw bad(`field "id2label" must number its ${n} labels 0…${n - 1}; id ${missing[0]} is missing`);
    const names = Object.values(id2label);
    const dup = names.find((nm, i) => names.indexOf(nm) !== i);
    if (dup !== undefined) throw bad(`field "id2label" names two labels ${JSON.stringify(dup)}`);
  }
  let numLabels = Object.keys(id2label).length;
  if (numLabels === 0) {
    const n = raw.num_labels ?? 2;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
      throw bad(`num_labels must be a positive integer, got ${JSON.stringify(n)}`);
    }
    if (n > CONFIG_LIMITS.num_labels) throw bad(`field "num_labels" is ${n}, above the limit of ${CONFIG_LIMITS.num_labels.toLocaleString('en-US')}`);
    numLabels = n;
    id2label = Object.fromEntries(Array.from({ length: n }, (_, i) => [i, `LABEL_${i}`]));
  } else if (raw.num_labels !== undefined && raw.num_labels !== null && raw.num_labels !== numLabels) {
    throw bad(`num_labels is ${JSON.stringify(raw.num_labels)} but id2label has ${numLabels} entries`);
  }
  const label2id: Record<string, number> = {};
  for (const [id, name] of Object.entries(id2label)) label2id[name] = Number(id);
  if (raw.label2id !== undefined && raw.label2id !== null) {
    if (!isMap(raw.label2id)) throw bad(`field "label2id" must be an object of label name → id, got ${JSON.stringify(raw.label2id)}`);
    for (const [name, id] of Object.entries(raw.label2id)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw bad(`label2id "${name}" must be a label id, got ${JSON.stringify(id)}`);
    }
    // HF keeps both maps; an explicit id2label must not be contradicted by label2id (a silent label swap).
    if (isMap(raw.id2label)) {
      for (const [name, id] of Object.entries(raw.label2id)) {
        if (id2label[id as number] !== undefined && id2label[id as number] !== name && name in label2id) {
          throw bad(`label2id maps "${name}" to ${String(id)} but id2label names ${String(id)} "${id2label[id as number]}"`);
        }
      }
    }
  }
  return { id2label, label2id, numLabels };
}

function validate(c: EncoderConfig, raw: Record<string, unknown>, file: string): void {
  const fail = (msg: string) => {
    throw new PeftStudioError('BAD_CONFIG', `${file}: ${msg}`, file);
  };
  for (const [k, v] of [
    ['vocab size', c.vocabSize],
    ['hidden size', c.hiddenSize],
    ['number of layers', c.numHiddenLayers],
    ['number of attention heads', c.numAttentionHeads],
    ['intermediate size', c.intermediateSize],
    ['max_position_embeddings', c.maxPositionEmbeddings],
  ] as const) {
    if (v < 1) fail(`${k} must be at least 1, got ${v}`);
  }
  if (c.hiddenSize % c.numAttentionHeads !== 0) {
    fail(`hidden size ${c.hiddenSize} is not a multiple of the number of attention heads ${c.numAttentionHeads}`);
  }
  const pet = raw.position_embedding_type;
  if (pet !== undefined && pet !== null && pet !== 'absolute') {
    throw new PeftStudioError(
      'UNSUPPORTED',
      `${file}: position_embedding_type "${String(pet)}" is not supported (only "absolute")`,
      file,
    );
  }
  if (raw.is_decoder === true || raw.add_cross_attention === true) {
    throw new PeftStudioError('UNSUPPORTED', `${file}: decoder / cross-attention BERT models are not supported`, file);
  }
  if (c.padTokenId >= c.vocabSize) fail(`pad_token_id ${c.padTokenId} is outside the vocabulary (${c.vocabSize})`);
  if (c.family === 'roberta' && c.maxPositionEmbeddings <= c.padTokenId + 1) {
    fail(`max_position_embeddings ${c.maxPositionEmbeddings} leaves no positions after RoBERTa's padding offset`);
  }
}

/** HF's rule in `BertForSequenceClassification.forward` when config.problem_type is unset. */
export function resolveProblemType(c: EncoderConfig, labelsAreIntegers = true): ProblemType {
  if (c.problemType) return c.problemType;
  if (c.numLabels === 1) return 'regression';
  return labelsAreIntegers ? 'single_label_classification' : 'multi_label_classification';
}
