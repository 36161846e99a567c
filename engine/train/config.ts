/**
 * A training run's configuration. Keys are HuggingFace `TrainingArguments` names wherever one exists, so a
 * config file (and the CLI's `--kebab-case` flags) reads the same as an HF script. `resolveRunConfig`
 * fills every default and rejects impossible combinations before any model is loaded.
 */
import * as path from 'node:path';
import { BACKEND_NAMES, type BackendName } from '../backend/select';
import { resolveModelSource, runBaseModel, runMethodName } from '../api/resolve-model-source';
import { findEvalBeside } from '../data/eval-beside';
import { PeftStudioError } from '../errors';
import { resolveDistill, splitDistillSpec, type DistillSettings } from '../distill/config';
import { readAdapter } from '../peft/adapter-import';
import { methodFactory, methodInfos, resolveMethodSpec } from '../peft/registry';
import type { MethodSpec } from '../peft/types';
import type { ScheduleType } from './optim/schedule';

export interface RunConfig {
  /** HF model folder. Given a run folder or a checkpoint, the run's base model (and `init_checkpoint` that checkpoint). */
  model: string;
  /**
   * A checkpoint of an earlier run whose trained model (merged, as `export --merged` writes it) this run
   * starts from, with that run's labels. Set when `model` names a run folder (its best checkpoint) or a checkpoint.
   */
  init_checkpoint?: string;
  train_file: string;
  /**
   * Separate evaluation file. When neither it nor `eval_split` is given, the split file beside the training
   * file in the GLUE / HF layout (`dev.tsv`, `validation.*`, a labelled `test.*`) is used when there is one;
   * else `eval_split` of the training data is held out (seeded).
   */
  eval_file?: string;
  /** Fraction held out for evaluation when there is no eval_file. 0 disables evaluation. Given explicitly, it wins over a split file beside the training file. */
  eval_split: number;
  text_column?: string | number;
  text_pair_column?: string | number | null;
  label_column?: string | number;
  /** What to do with malformed rows: stop the run ('fail'), or leave them out and report them ('skip'). */
  on_bad_row: 'fail' | 'skip';
  /** Run folder; default `<runs_dir>/<timestamp>-<method>-<dataset>`. */
  output_dir?: string;
  /** A display name for dashboards and the Runs tree (HF's `run_name`); default: the folder name. */
  run_name?: string;
  runs_dir: string;
  /**
   * The training method and its settings, resolved: `{ name: 'lora', r: 8, lora_alpha: 8, … }` (names as in
   * HF PEFT / AdapterHub). A config file may give a name alone (`method: lora`), a partial object, and/or the
   * settings as top-level keys named after their CLI flags (`lora_r: 8`, `bias_terms: [all]`), which override.
   */
  method: MethodSpec;
  /** BitFit's paper uses 1e-4 … 1e-3; biases need larger steps than full fine-tuning's 2e-5. */
  learning_rate: number;
  /** torch AdamW's decoupled decay; 0 by default as in HF (and HF would exempt biases anyway). */
  weight_decay: number;
  adam_beta1: number;
  adam_beta2: number;
  adam_epsilon: number;
  lr_scheduler_type: ScheduleType;
  warmup_steps: number;
  /** Used when warmup_steps is 0: ceil(ratio × total steps), HF's rule. */
  warmup_ratio: number;
  /** Global-norm clipping (HF default 1.0); 0 disables it. */
  max_grad_norm: number;
  /** > 0 overrides num_train_epochs. */
  max_steps: number;
  num_train_epochs: number;
  per_device_train_batch_size: number;
  per_device_eval_batch_size: number;
  /**
   * Examples per forward/backward pass inside one batch; 'auto' keeps a pass within a memory budget
   * (train/micro-batch.ts), since TF.js autodiff holds a whole pass's intermediates. The parts' gradients
   * add up to the whole batch's, so this changes memory and speed, not what is learned (dropout masks aside).
   */
  per_device_train_micro_batch_size: number | 'auto';
  /** HF's: batches whose gradients are summed before one optimizer step (effective batch = this × batch). */
  gradient_accumulation_steps: number;
  seed: number;
  /** Tokens per example including [CLS]/[SEP]; longer inputs are truncated (longest_first for pairs). */
  max_length: number;
  /** HF `group_by_length`: batch similar lengths together so short sentences do not pay for long ones. */
  group_by_length: boolean;
  /** 'epoch' (default with eval data), 'steps' (every eval_steps), or 'no'. */
  eval_strategy: 'no' | 'steps' | 'epoch';
  eval_steps: number;
  /** Checkpoint every save_steps optimizer steps (0: only at the end). */
  save_steps: number;
  /** Older checkpoints beyond this many are deleted; the best one is always kept. */
  save_total_limit: number;
  /** What-moved reports every N steps (they cost a read of every trained tensor). */
  bias_change_steps: number;
  /** Units listed per cell in a what-moved report. */
  bias_change_top_k: number;
  /** Metric ranking checkpoints; default per task (accuracy, pearson_spearman, micro_f1). */
  metric_for_best_model?: string;
  backend: BackendName | 'auto';
  /** Continue from this checkpoint folder (or a run folder: its latest checkpoint). */
  resume_from_checkpoint?: string;
  /**
   * Start from a saved adapter (HF PEFT, AdapterHub, or `export --adapter`): its config sets the method and
   * its settings unless the config gives them, its tensors the starting values.
   */
  adapter?: string;
  /**
   * Distillation (DistilBERT's recipe): the teacher and the loss mix; the student is `model`, or the
   * teacher's own layers (`student_layers`). `method` is what the student trains with. Also written as
   * `method: { name: distill, teacher: …, student_method: lora }`.
   */
  distill?: DistillSettings;
}

export const DEFAULTS: Omit<RunConfig, 'model' | 'train_file' | 'method'> & { method: string } = {
  eval_split: 0.1,
  on_bad_row: 'fail',
  runs_dir: 'runs',
  method: 'bitfit',
  learning_rate: 1e-3,
  weight_decay: 0,
  adam_beta1: 0.9,
  adam_beta2: 0.999,
  adam_epsilon: 1e-8,
  lr_scheduler_type: 'linear',
  warmup_steps: 0,
  warmup_ratio: 0,
  max_grad_norm: 1,
  max_steps: -1,
  num_train_epochs: 3,
  per_device_train_batch_size: 32,
  per_device_eval_batch_size: 64,
  per_device_train_micro_batch_size: 'auto',
  gradient_accumulation_steps: 1,
  seed: 42,
  max_length: 128,
  group_by_length: true,
  eval_strategy: 'epoch',
  eval_steps: 100,
  save_steps: 500,
  save_total_limit: 2,
  bias_change_steps: 10,
  bias_change_top_k: 8,
  backend: 'auto',
};

const SCHEDULES: ScheduleType[] = ['constant', 'constant_with_warmup', 'linear', 'cosine'];

/** Fills defaults into a partial config (from a file, flags or the extension) and validates it. */
export function resolveRunConfig(partialIn: Partial<Omit<RunConfig, 'method' | 'distill'>> & { method?: string | Partial<MethodSpec>; distill?: Partial<DistillSettings> } & Record<string, unknown>, baseDir = process.cwd()): RunConfig {
  if (typeof partialIn !== 'object' || partialIn === null || Array.isArray(partialIn)) fail(`a run config is an object of settings, got ${JSON.stringify(partialIn)}`);
  let partial = partialIn;
  const flat = methodSettingKeys();
  const known = new Set([...Object.keys(DEFAULTS), ...flat.keys(), 'model', 'train_file', 'eval_file', 'text_column', 'text_pair_column', 'label_column', 'output_dir', 'run_name', 'metric_for_best_model', 'resume_from_checkpoint', 'adapter', 'distill', 'init_checkpoint', '$schema']);
  const unknown = Object.keys(partial).filter((k) => !known.has(k) && partial[k] !== undefined);
  if (unknown.length) fail(`unknown setting(s): ${unknown.join(', ')}`);
  // `method: distill` is distillation with a student method: split it into the two.
  let distillRaw = partial.distill as Record<string, unknown> | undefined;
  const m = partial.method;
  if (m === 'distill' || (typeof m === 'object' && m !== null && (m as MethodSpec).name === 'distill')) {
    const split = splitDistillSpec(typeof m === 'string' ? { name: 'distill' } : (m as MethodSpec));
    distillRaw = { ...split.distill, ...(distillRaw ?? {}) };
    partial = { ...partial, method: split.studentMethod };
  }
  if (distillRaw !== undefined && (typeof distillRaw !== 'object' || distillRaw === null || Array.isArray(distillRaw))) fail('distill must be an object with a teacher');
  // A distilled student trains fully unless the config names a method for it (DistilBERT's recipe).
  if (distillRaw && partial.method === undefined) partial = { ...partial, method: 'full' };
  let distill: DistillSettings | undefined;
  try {
    distill = distillRaw ? resolveDistill(distillRaw, (p) => path.resolve(baseDir, p)) : undefined;
  } catch (e) {
    if (e instanceof PeftStudioError) fail(e.message);
    throw e;
  }
  const method = resolveMethod(partial, flat, typeof partial.adapter === 'string' ? path.resolve(baseDir, partial.adapter) : undefined);
  const rest = Object.fromEntries(Object.entries(stripUndefined(partial)).filter(([k]) => !flat.has(k) && k !== 'distill'));
  const c = { ...DEFAULTS, ...rest, method, ...(distill ? { distill } : {}) } as RunConfig & { $schema?: string };
  delete c.$schema;
  if (c.distill) {
    // The student: a model folder (`student`, or `model` when the config gives one), else the teacher's own layers.
    if (c.distill.student_layers !== undefined) c.model = c.distill.teacher;
    else if (c.distill.student) c.model = c.distill.student;
    else if (typeof c.model === 'string' && c.model) c.distill.student = path.resolve(baseDir, c.model);
    else c.model = c.distill.teacher;
  }
  if (typeof c.model !== 'string' || !c.model) fail('"model" (a HuggingFace model folder) is required');
  if (typeof c.train_file !== 'string' || !c.train_file) fail('"train_file" (CSV, TSV, JSONL or Parquet) is required');
  for (const k of ['model', 'train_file', 'eval_file', 'output_dir', 'runs_dir', 'resume_from_checkpoint', 'adapter', 'init_checkpoint'] as const) {
    const v = c[k];
    if (typeof v === 'string') (c as unknown as Record<string, string>)[k] = path.resolve(baseDir, v);
  }
  // Types first: a config file may hold anything where a number, a flag or a name belongs.
  const raw = c as unknown as Record<string, unknown>;
  for (const [k, d] of Object.entries(DEFAULTS)) {
    if (k === 'method') continue; // resolved and checked by the method's own spec above
    const v = raw[k];
    if (typeof d === 'number' && (typeof v !== 'number' || !Number.isFinite(v))) fail(`${k} must be a number, got ${JSON.stringify(v)}`);
    if (typeof d === 'boolean' && typeof v !== 'boolean') fail(`${k} must be true or false, got ${JSON.stringify(v)}`);
    if (typeof d === 'string' && k !== 'per_device_train_micro_batch_size' && typeof v !== 'string') fail(`${k} must be a string, got ${JSON.stringify(v)}`);
  }
  for (const k of ['eval_file', 'output_dir', 'run_name', 'metric_for_best_model', 'resume_from_checkpoint'] as const) {
    if (raw[k] !== undefined && (typeof raw[k] !== 'string' || raw[k] === '')) fail(`${k} must be a non-empty string, got ${JSON.stringify(raw[k])}`);
  }
  for (const k of ['text_column', 'text_pair_column', 'label_column'] as const) {
    const v = raw[k];
    if (v === undefined || (v === null && k === 'text_pair_column')) continue;
    if (!((typeof v === 'string' && v !== '') || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0))) fail(`${k} must be a column name or a 0-based column index, got ${JSON.stringify(v)}`);
  }
  if (c.num_train_epochs > 1e6) fail(`num_train_epochs must be at most 1e6, got ${c.num_train_epochs}`);
  // No eval file and no split asked for: the GLUE / HF layout's dev (validation, labelled test) file beside the training file.
  if (c.eval_file === undefined && partial.eval_split === undefined) c.eval_file = findEvalBeside(c.train_file, c.label_column)?.file;
  // A distillation's student is built from the teacher (or is a model folder): `model` is not a run to start from.
  const source = c.distill ? { kind: 'model' as const } : resolveModelSource(c.model);
  if (source.kind === 'run') {
    if (c.init_checkpoint) fail(`"model" names a run (${c.model}) and init_checkpoint is set too: give one`);
    // Only a trained model that folds into plain weights can be a starting point (the new run applies its own method).
    const from = runMethodName(source.runDir);
    const merge = methodFactory(from).info.merge;
    if (merge !== true) {
      fail(`"model" names a ${from} run (${source.runDir}), whose trained model is not plain weights to start from: ${merge}. Continue that run with resume_from_checkpoint, or export its adapter (export --adapter) and start from it with adapter`);
    }
    c.model = runBaseModel(source.runDir);
    c.init_checkpoint = source.checkpoint;
  }
  const positive = ['learning_rate', 'adam_epsilon', 'per_device_train_batch_size', 'per_device_eval_batch_size', 'gradient_accumulation_steps', 'max_length', 'eval_steps', 'bias_change_steps'] as const;
  for (const k of positive) if (!(typeof c[k] === 'number' && c[k] > 0)) fail(`${k} must be a positive number, got ${JSON.stringify(c[k])}`);
  const ints = ['per_device_train_batch_size', 'per_device_eval_batch_size', 'gradient_accumulation_steps', 'max_length', 'eval_steps', 'save_steps', 'save_total_limit', 'bias_change_steps', 'bias_change_top_k', 'warmup_steps', 'seed'] as const;
  for (const k of ints) if (!Number.isSafeInteger(c[k]) || c[k] < 0) fail(`${k} must be a non-negative integer, got ${JSON.stringify(c[k])}`);
  if (!Number.isSafeInteger(c.max_steps) || (c.max_steps < 1 && c.max_steps !== -1)) fail(`max_steps must be a positive integer or -1, got ${c.max_steps}`);
  if (!(c.num_train_epochs > 0)) fail(`num_train_epochs must be positive, got ${c.num_train_epochs}`);
  if (!(c.weight_decay >= 0)) fail(`weight_decay must be ≥ 0`);
  if (!(c.max_grad_norm >= 0)) fail(`max_grad_norm must be ≥ 0 (0 disables clipping)`);
  for (const k of ['adam_beta1', 'adam_beta2'] as const) if (!(c[k] >= 0 && c[k] < 1)) fail(`${k} must be in [0, 1)`);
  if (!(c.warmup_ratio >= 0 && c.warmup_ratio < 1)) fail('warmup_ratio must be in [0, 1)');
  if (!(c.eval_split >= 0 && c.eval_split < 1)) fail('eval_split must be in [0, 1)');
  if (!SCHEDULES.includes(c.lr_scheduler_type)) fail(`lr_scheduler_type must be one of ${SCHEDULES.join(', ')}`);
  if (!['no', 'steps', 'epoch'].includes(c.eval_strategy)) fail('eval_strategy must be no, steps or epoch');
  if (!['fail', 'skip'].includes(c.on_bad_row)) fail('on_bad_row must be fail or skip');
  const micro = c.per_device_train_micro_batch_size;
  if (micro !== 'auto' && !(Number.isSafeInteger(micro) && micro > 0)) fail(`per_device_train_micro_batch_size must be "auto" or a positive integer, got ${JSON.stringify(micro)}`);
  if (c.backend !== 'auto' && !(BACKEND_NAMES as readonly string[]).includes(c.backend)) fail(`backend must be auto or one of ${BACKEND_NAMES.join(', ')}`);
  return c;
}

/** Top-level config keys that set a method's setting (its CLI flag in snake_case) → the methods that have it. */
export function methodSettingKeys(): Map<string, Array<{ method: string; key: string }>> {
  const out = new Map<string, Array<{ method: string; key: string }>>();
  for (const info of methodInfos()) {
    for (const s of info.settings) {
      const flatKey = s.flag.replace(/-/g, '_');
      (out.get(flatKey) ?? out.set(flatKey, []).get(flatKey)!).push({ method: info.name, key: s.key });
    }
  }
  return out;
}

/** The method spec of a partial config: `method` (a name or an object) with top-level setting keys applied over it. */
function resolveMethod(partial: Record<string, unknown>, flat = methodSettingKeys(), adapterDir?: string): MethodSpec {
  let raw = partial.method ?? DEFAULTS.method;
  if (adapterDir) {
    // The adapter's own config sets the method and its settings; the run config may still override settings.
    const a = readAdapter(adapterDir);
    if (partial.method !== undefined) {
      const given = typeof partial.method === 'string' ? partial.method : (partial.method as MethodSpec).name;
      if (given !== a.spec.name) fail(`adapter ${adapterDir} is a ${a.factory.info.title} adapter, but the config's method is ${given}`);
    }
    raw = { ...a.spec, ...(typeof partial.method === 'object' && partial.method !== null ? (partial.method as MethodSpec) : {}) };
  }
  let spec: MethodSpec;
  if (typeof raw === 'string') spec = { name: raw };
  else if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && typeof (raw as MethodSpec).name === 'string') spec = { ...(raw as MethodSpec) };
  else fail(`method must be a method name or an object with a "name" (available: ${methodInfos().map((m) => m.name).join(', ')}), got ${JSON.stringify(raw)}`);
  try {
    spec.name = methodFactory(spec.name).info.name; // an alias (AdapterHub's seq_bn) names its method
  } catch (e) {
    fail((e as Error).message);
  }
  for (const [key, owners] of flat) {
    if (partial[key] === undefined) continue;
    const own = owners.find((o) => o.method === spec.name);
    if (!own) fail(`${key} is a setting of ${owners.map((o) => o.method).join(', ')}, not of method ${spec.name}`);
    spec[own.key] = partial[key];
  }
  try {
    return resolveMethodSpec(spec);
  } catch (e) {
    if (e instanceof PeftStudioError) fail(e.message);
    throw e;
  }
}

/** A run config as older versions wrote it (`method: 'bitfit'`, `bias_terms`, `train_head` at the top) in today's form. */
export function normalizeStoredConfig(raw: Record<string, unknown>): RunConfig {
  if (typeof raw.method === 'object' && raw.method !== null) return raw as unknown as RunConfig;
  const { bias_terms, train_head, ...rest } = raw;
  const name = typeof raw.method === 'string' ? raw.method : 'bitfit';
  const method: MethodSpec = { name };
  if (name === 'bitfit') {
    if (bias_terms !== undefined) method.bias_terms = bias_terms;
    if (train_head !== undefined) method.train_head = train_head;
  }
  return { ...rest, method } as unknown as RunConfig;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function fail(msg: string): never {
  throw new PeftStudioError('BAD_INPUT', `run config: ${msg}`);
}
