/**
 * From an HF model folder to an EncoderModel, the way `from_pretrained` does it: encoder tensors must all
 * be there with the config's shapes; known pretraining heads and buffers are skipped; a missing pooler or
 * task head is initialised fresh (normal(0, initializer_range), seeded) and said so in a notice; anything
 * else is an error that lists the offending tensors by name.
 */
import { tf } from '../backend/tf';
import { PeftStudioError } from '../errors';
import type { StateDict } from '../io/types';
import { loadStateDict } from '../io/weights';
import { CONFIG_LIMITS, readConfig, type EncoderConfig, type HeadKind, type ProblemType } from './config';
import { EncoderModel } from './model';
import { ParamStore } from './params';
import { basePrefixFor, expectedParams, hasPooler, isKnownIgnorable, isOtherTaskHead, type ParamSpec } from './schema';

export interface LoadModelOptions {
  /** Which head to build. Default: the checkpoint's own if it is a sequence classifier or a bare encoder,
   *  else a sequence classifier (pretraining checkpoints are loaded to be fine-tuned). */
  head?: HeadKind;
  /** Overrides for the classification head (a new task on a pretrained encoder). */
  numLabels?: number;
  id2label?: Record<number, string>;
  problemType?: ProblemType;
  /** Re-initialise head tensors whose shape differs (HF's `ignore_mismatched_sizes`). Encoder tensors never. */
  ignoreMismatchedSizes?: boolean;
  /** Seed for freshly initialised tensors. */
  seed?: number;
  /** Build only the tensors whose names pass (checks still cover the whole checkpoint); the rest come from elsewhere (a shared base store). */
  only?: (name: string) => boolean;
}

export interface LoadedModel {
  model: EncoderModel;
  /** Human-readable facts a user should know: fresh heads, ignored tensors, dtype conversions. */
  notices: string[];
  /** Tensors initialised fresh because the checkpoint lacks them (or had them at another shape). */
  initialized: string[];
  /** Checkpoint tensors skipped on purpose (pretraining heads, buffers, another task's head). */
  ignored: string[];
  files: string[];
}

const BASE_ARCHS = new Set(['BertModel', 'RobertaModel', 'DistilBertModel']);

export function loadModel(dir: string, opts: LoadModelOptions = {}): LoadedModel {
  const config = applyOverrides(readConfig(dir), opts);
  const head: HeadKind = opts.head ?? (BASE_ARCHS.has(config.architecture) ? 'none' : 'sequence-classification');
  const weights = loadStateDict(dir);
  const { params, notices, initialized, ignored } = buildParams(config, head, weights.tensors, opts, weights.files[0] ?? dir);
  if (head === 'sequence-classification' && !config.architecture.endsWith('ForSequenceClassification')) {
    notices.unshift(`${config.architecture} checkpoint loaded as a sequence classifier with ${config.numLabels} labels`);
  }
  return { model: new EncoderModel(config, params, head), notices: [...weights.notices, ...notices], initialized, ignored, files: weights.files };
}

function applyOverrides(config: EncoderConfig, opts: LoadModelOptions): EncoderConfig {
  const c = { ...config };
  if (opts.id2label) {
    c.id2label = { ...opts.id2label };
    c.numLabels = Object.keys(opts.id2label).length;
    c.label2id = Object.fromEntries(Object.entries(opts.id2label).map(([k, v]) => [v, Number(k)]));
  } else if (opts.numLabels !== undefined && opts.numLabels !== c.numLabels) {
    if (!Number.isInteger(opts.numLabels) || opts.numLabels < 1 || opts.numLabels > CONFIG_LIMITS.num_labels) {
      throw new PeftStudioError('BAD_INPUT', `numLabels must be an integer from 1 to ${CONFIG_LIMITS.num_labels}, got ${opts.numLabels}`);
    }
    c.numLabels = opts.numLabels;
    c.id2label = Object.fromEntries(Array.from({ length: opts.numLabels }, (_, i) => [i, `LABEL_${i}`]));
    c.label2id = Object.fromEntries(Object.entries(c.id2label).map(([k, v]) => [v, Number(k)]));
  }
  if (opts.problemType) c.problemType = opts.problemType;
  return c;
}

/** HF renames TF-era LayerNorm names on load (`gamma`→`weight`, `beta`→`bias`); so do we. */
function hfName(name: string): string {
  return name.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
}

/**
 * Checkpoints of task models carry the base prefix (`bert.`), bare `BertModel` checkpoints do not. Like
 * `from_pretrained`, add or strip it so either loads into either.
 */
function alignPrefixes(names: string[], expectedBase: string, family: string): Map<string, string> {
  const renamed = new Map<string, string>();
  const hasBase = names.some((n) => n.startsWith(`${family}.`));
  for (const original of names) {
    let n = hfName(original);
    if (expectedBase && !hasBase && !isKnownIgnorable(n) && !isOtherTaskHead(n)) n = expectedBase + n;
    if (!expectedBase && n.startsWith(`${family}.`)) n = n.slice(family.length + 1);
    renamed.set(original, n);
  }
  return renamed;
}

function buildParams(config: EncoderConfig, head: HeadKind, tensors: StateDict, opts: LoadModelOptions, file: string) {
  const specs = expectedParams(config, head);
  const byName = new Map<string, ParamSpec>(specs.map((s) => [s.name, s]));
  const renamed = alignPrefixes([...tensors.keys()], basePrefixFor(config, head), config.family);
  const found = new Map<string, string>(); // model name → checkpoint name
  const notices: string[] = [];
  const ignored: string[] = [];
  const unexpected: string[] = [];
  for (const [original, name] of renamed) {
    if (byName.has(name)) found.set(name, original);
    else if (isKnownIgnorable(name) || isOtherTaskHead(name)) ignored.push(original);
    // RobertaForSequenceClassification has no pooler; HF drops a checkpoint's pooler with a warning.
    else if (!hasPooler(config, head) && /^(?:[a-z]+\.)?pooler\.dense\.(weight|bias)$/.test(name)) ignored.push(original);
    else unexpected.push(original);
  }
  const missing = specs.filter((s) => s.part === 'encoder' && !found.has(s.name)).map((s) => s.name);
  const mismatched: string[] = [];
  for (const s of specs) {
    const original = found.get(s.name);
    if (!original) continue;
    const shape = tensors.get(original)!.shape;
    if (sameShape(shape, s.shape)) continue;
    if (s.part === 'head' && opts.ignoreMismatchedSizes) {
      found.delete(s.name);
      notices.push(`${s.name}: checkpoint shape [${shape}] ≠ [${s.shape}], initialised fresh (ignoreMismatchedSizes)`);
    } else {
      mismatched.push(`${original}: checkpoint [${shape}], config expects [${s.shape}]`);
    }
  }
  const problems: string[] = [];
  if (missing.length) problems.push(`missing encoder tensors (${missing.length}): ${listNames(missing)}`);
  if (unexpected.length) problems.push(`unexpected tensors that belong to no known head (${unexpected.length}): ${listNames(unexpected)}`);
  if (mismatched.length) {
    const hint = mismatched.some((m) => /^classifier|^pre_classifier/.test(m))
      ? ' (a head of another size: pass a matching number of labels, or allow re-initialising mismatched head tensors)'
      : '';
    problems.push(`shape mismatch against config.json (${mismatched.length}): ${listNames(mismatched)}${hint}`);
  }
  const tooBig = parameterCountProblem(config, specs, tensors);
  if (tooBig) problems.unshift(tooBig);
  if (problems.length) {
    throw new PeftStudioError('WEIGHTS_MISMATCH', `${file}: does not fit its config.json — ${problems.join('; ')}`, file);
  }

  const params = new ParamStore();
  const initialized: string[] = [];
  const seed = opts.seed ?? 42;
  specs.forEach((s, i) => {
    if (opts.only && !opts.only(s.name)) return;
    const original = found.get(s.name);
    if (original) {
      const t = tensors.get(original)!;
      checkFinite(t.data, original, file);
      params.set(s.name, tf.tensor(t.data, s.shape, 'float32'));
    } else {
      params.set(s.name, freshTensor(s, config.initializerRange, seed + i));
      initialized.push(s.name);
    }
  });
  if (initialized.length) {
    const groups = [...new Set(initialized.map((n) => n.replace(/\.(weight|bias)$/, '')))];
    notices.push(`not in the checkpoint, initialised fresh (normal(0, ${config.initializerRange}), seed ${seed}): ${groups.join(', ')} — train before trusting predictions`);
  }
  // Buffers (position_ids) are skipped silently, as HF does; dropped heads are worth a line.
  const heads = ignored.filter((n) => !/\.(position_ids|token_type_ids)$/.test(n));
  if (heads.length) notices.push(`ignored ${heads.length} checkpoint tensors of another head (pretraining or task): ${listNames(heads, 4)}`);
  return { params, notices, initialized, ignored };
}

/**
 * The encoder a config describes must fit in the weights, counted before any tensor is built (config.ts
 * bounds each size field, so the spec list itself stays small): a config claiming hundreds of layers over
 * the weights of two is said in one line, naming its sizes, ahead of the list of missing tensors.
 */
function parameterCountProblem(config: EncoderConfig, specs: ParamSpec[], tensors: StateDict): string | undefined {
  let implied = 0;
  for (const s of specs) if (s.part === 'encoder') implied += s.shape.reduce((a, b) => a * b, 1);
  let held = 0;
  for (const t of tensors.values()) held += t.data.length;
  if (implied <= held) return undefined;
  const c = config;
  return (
    `config.json describes an encoder of ${implied.toLocaleString('en-US')} parameters (${c.numHiddenLayers} layers, hidden size ${c.hiddenSize}, ` +
    `intermediate size ${c.intermediateSize}, vocabulary ${c.vocabSize}, ${c.maxPositionEmbeddings} positions) but the weights hold only ${held.toLocaleString('en-US')} values`
  );
}

/** NaN or ±Inf in a weight poisons every output; say which tensor instead of predicting garbage. */
function checkFinite(data: Float32Array | Int32Array, name: string, file: string): void {
  if (!(data instanceof Float32Array)) return;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      let count = 0;
      for (let j = i; j < data.length; j++) if (data[j]! - data[j]! !== 0) count++;
      throw new PeftStudioError(
        'BAD_WEIGHTS',
        `${file}: tensor "${name}" holds ${count} non-finite value${count === 1 ? '' : 's'} (first: ${v} at element ${i}); the checkpoint is corrupt or diverged in training`,
        file,
      );
    }
  }
}

function freshTensor(s: ParamSpec, std: number, seed: number): tf.Tensor {
  if (s.init === 'zeros') return tf.zeros(s.shape);
  if (s.init === 'ones') return tf.ones(s.shape);
  return tf.randomNormal(s.shape, 0, std, 'float32', seed);
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function listNames(names: string[], max = 8): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')}, … (+${names.length - max} more)`;
}
