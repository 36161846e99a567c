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
  const architecture = (Array.isArray(raw.architectures) && typeof raw.architectures[0] === 'string'
    ? raw.architectures[0]
    : { bert: 'BertModel', roberta: 'RobertaModel', distilbert: 'DistilBertModel' }[family]) as string;

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
  const int = (key: string, fallback?: number): number => {
    const v = num(key, fallback);
    if (!Number.isInteger(v) || v < 0) {
      throw new PeftStudioError('BAD_CONFIG', `${file}: field "${key}" must be a non-negative integer, got ${v}`, file);
    }
    return v;
  };

  const d = family === 'distilbert';
  const { id2label, label2id, numLabels } = parseLabels(raw, file);
  const hiddenDropoutProb = num(d ? 'dropout' : 'hidden_dropout_prob', 0.1);
  const classifierDropoutRaw = raw[d ? 'seq_classif_dropout' : 'classifier_dropout'];
  const config: EncoderConfig = {
    family,
    architecture,
    vocabSize: int('vocab_size'),
    hiddenSize: int(d ? 'dim' : 'hidden_size'),
    numHiddenLayers: int(d ? 'n_layers' : 'num_hidden_layers'),
    numAttentionHeads: int(d ? 'n_heads' : 'num_attention_heads'),
    intermediateSize: int(d ? 'hidden_dim' : 'intermediate_size'),
    hiddenAct: parseAct(raw[d ? 'activation' : 'hidden_act'] ?? 'gelu', file),
    maxPositionEmbeddings: int('max_position_embeddings', 512),
    typeVocabSize: d ? 0 : int('type_vocab_size', 2),
    // DistilBERT hard-codes 1e-12 in its modules; config.json has no field for it.
    layerNormEps: d ? 1e-12 : num('layer_norm_eps', 1e-12),
    padTokenId: int('pad_token_id', family === 'roberta' ? 1 : 0),
    initializerRange: num('initializer_range', 0.02),
    hiddenDropoutProb,
    attentionProbsDropoutProb: num(d ? 'attention_dropout' : 'attention_probs_dropout_prob', 0.1),
    classifierDropout:
      typeof classifierDropoutRaw === 'number' ? classifierDropoutRaw : d ? 0.2 : hiddenDropoutProb,
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
  const modelType = typeof raw.model_type === 'string' ? raw.model_type : undefined;
  const arch = Array.isArray(raw.architectures) ? String(raw.architectures[0] ?? '') : '';
  const byType: Record<string, Family> = { bert: 'bert', roberta: 'roberta', distilbert: 'distilbert' };
  if (modelType !== undefined) {
    const fam = byType[modelType];
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

/** HF's PretrainedConfig: id2label wins and sets num_labels; else num_labels (default 2) makes LABEL_i. */
function parseLabels(raw: Record<string, unknown>, file: string) {
  let id2label: Record<number, string> = {};
  if (raw.id2label && typeof raw.id2label === 'object') {
    for (const [k, v] of Object.entries(raw.id2label as Record<string, unknown>)) {
      const id = Number(k);
      if (!Number.isInteger(id) || id < 0) {
        throw new PeftStudioError('BAD_CONFIG', `${file}: id2label key "${k}" is not a label id`, file);
      }
      id2label[id] = String(v);
    }
  }
  let numLabels = Object.keys(id2label).length;
  if (numLabels === 0) {
    const n = raw.num_labels ?? 2;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
      throw new PeftStudioError('BAD_CONFIG', `${file}: num_labels must be a positive integer`, file);
    }
    numLabels = n;
    id2label = Object.fromEntries(Array.from({ length: n }, (_, i) => [i, `LABEL_${i}`]));
  } else if (typeof raw.num_labels === 'number' && raw.num_labels !== numLabels) {
    throw new PeftStudioError(
      'BAD_CONFIG',
      `${file}: num_labels is ${raw.num_labels} but id2label has ${numLabels} entries`,
      file,
    );
  }
  const label2id: Record<string, number> = {};
  for (const [id, name] of Object.entries(id2label)) label2id[name] = Number(id);
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
