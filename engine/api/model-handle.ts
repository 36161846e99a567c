/**
 * The library's front door: open a model folder (backend, weights, tokenizer in one call), predict on
 * texts, and summarise a model for `inspect`. The CLI and the extension's worker both go through here.
 */
import { tf } from '../backend/tf';
import { initBackend, type BackendName, type BackendReport } from '../backend/select';
import { PeftStudioError } from '../errors';
import { resolveProblemType, type ProblemType } from '../model/config';
import { loadModel, type LoadModelOptions } from '../model/load';
import type { PeftMethod } from '../peft/types';
import { loadModelWithAdapter } from './adapter-model';
import type { EncoderModel } from '../model/model';
import { loadTokenizer } from '../tokenizer';
import type { BatchEncoding, Tokenizer } from '../tokenizer/types';
import { checkIdsFit, maxTokens } from '../model/limits';

export interface OpenModelOptions extends LoadModelOptions {
  /** Force a backend; default: the fastest that loads (see backend/select.ts). */
  backend?: BackendName | 'auto';
  /** A saved adapter (HF PEFT, AdapterHub, `export --adapter`) to put on the model. */
  adapter?: string;
}

export interface ModelHandle {
  dir: string;
  model: EncoderModel;
  /** The adapter's method when the model was opened with one (`adapter`). */
  method?: PeftMethod;
  tokenizer: Tokenizer;
  backend: BackendReport;
  notices: string[];
}

export async function openModel(dir: string, opts: OpenModelOptions = {}): Promise<ModelHandle> {
  const backend = await initBackend({ backend: opts.backend });
  const loaded = opts.adapter ? loadModelWithAdapter(dir, opts.adapter, opts) : loadModel(dir, opts);
  const { model } = loaded;
  const notices = [...loaded.notices, ...('adapterNotices' in loaded ? (loaded.adapterNotices as string[]) : [])];
  try {
    const tokenizer = await loadTokenizer(dir, { modelMaxLength: maxTokens(model) });
    if (tokenizer.vocabSize > model.config.vocabSize) {
      notices.push(`tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${model.config.vocabSize}: ids past it would fail`);
    }
    return { dir, model, tokenizer, backend, notices, method: 'method' in loaded ? (loaded.method as PeftMethod) : undefined };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

export { maxTokens } from '../model/limits';

export interface PredictInput {
  text: string;
  textPair?: string;
}

export interface Prediction {
  /** id2label of the top class; for regression, absent. */
  label?: string;
  labelId?: number;
  logits: number[];
  /** Softmax (single-label) or per-label sigmoid (multi-label); absent for regression. */
  probabilities?: number[];
  /** Regression output (the single logit). */
  score?: number;
  /** The input was longer than the model accepts and was cut. */
  truncated: boolean;
}

export async function predict(h: ModelHandle, inputs: PredictInput[], opts: { maxLength?: number; batchSize?: number } = {}): Promise<Prediction[]> {
  if (h.model.head !== 'sequence-classification') {
    throw new PeftStudioError('BAD_INPUT', `${h.dir}: this model has no classification head to predict with`);
  }
  const problem: ProblemType = resolveProblemType(h.model.config);
  const maxLength = Math.min(opts.maxLength ?? maxTokens(h.model), maxTokens(h.model));
  const batchSize = opts.batchSize ?? 32;
  const out: Prediction[] = [];
  for (let start = 0; start < inputs.length; start += batchSize) {
    const chunk = inputs.slice(start, start + batchSize);
    const enc = encodeChunk(h.tokenizer, chunk, maxLength);
    checkIdsFit(h.model, enc.inputIds.map((ids, i) => ({ inputIds: ids, tokenTypeIds: enc.tokenTypeIds[i]! })), h.tokenizer, h.dir);
    const logits = tf.tidy(() => {
      const x = {
        inputIds: tf.tensor2d(enc.inputIds, undefined, 'int32'),
        attentionMask: tf.tensor2d(enc.attentionMask, undefined, 'int32'),
        tokenTypeIds: tf.tensor2d(enc.tokenTypeIds, undefined, 'int32'),
      };
      return h.model.forward(x).logits!;
    });
    const rows = (await logits.array()) as number[][];
    logits.dispose();
    rows.forEach((row, i) => {
      const at = row.findIndex((z) => !Number.isFinite(z));
      if (at >= 0) {
        throw new PeftStudioError(
          'BAD_WEIGHTS',
          `${h.dir}: the model computed a non-finite logit (${row[at]}) for input ${start + i + 1}: its weights overflow float32 arithmetic; the checkpoint is corrupt or diverged in training`,
          h.dir,
        );
      }
    });
    rows.forEach((row, i) => out.push(toPrediction(row, problem, h.model.config.id2label, enc.truncated[i]!)));
  }
  return out;
}

/**
 * Tokenizes one batch, padded to its longest row. A batch that mixes single texts and pairs is encoded row
 * by row (a single text must not become a pair with an empty second segment), then padded the same way.
 */
function encodeChunk(tokenizer: Tokenizer, chunk: PredictInput[], maxLength: number): BatchEncoding {
  const pairs = chunk.filter((x) => x.textPair !== undefined).length;
  if (pairs === 0 || pairs === chunk.length) {
    return tokenizer.encodeBatch(
      chunk.map((x) => x.text),
      pairs ? chunk.map((x) => x.textPair!) : undefined,
      { maxLength, padding: 'longest', truncation: true },
    );
  }
  const rows = chunk.map((x) => tokenizer.encode(x.text, x.textPair, { maxLength, truncation: true }));
  const T = Math.max(...rows.map((r) => r.inputIds.length));
  const pad = (a: number[], v: number) => a.concat(new Array<number>(T - a.length).fill(v));
  return {
    inputIds: rows.map((r) => pad(r.inputIds, tokenizer.padTokenId)),
    attentionMask: rows.map((r) => pad(r.attentionMask, 0)),
    tokenTypeIds: rows.map((r) => pad(r.tokenTypeIds, 0)),
    truncated: rows.map((r) => r.truncated),
  };
}

function toPrediction(logits: number[], problem: ProblemType, id2label: Record<number, string>, truncated: boolean): Prediction {
  if (problem === 'regression') return { logits, score: logits[0], truncated };
  const probabilities = problem === 'multi_label_classification' ? logits.map((z) => 1 / (1 + Math.exp(-z))) : softmax(logits);
  const labelId = probabilities.indexOf(Math.max(...probabilities));
  return { label: id2label[labelId] ?? String(labelId), labelId, logits, probabilities, truncated };
}

/** Softmax in float64 from float32 logits: what `torch.softmax(logits.double())` prints. */
export function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
