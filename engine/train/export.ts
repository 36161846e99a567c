/**
 * What a finished run produces for use elsewhere:
 *  - the delta: only the tensors training changed (plus any head the base checkpoint lacked, which the run
 *    initialised from its seed), under HF names, in a small safetensors file with a manifest. PyTorch loads
 *    it with `model.load_state_dict(load_file(path), strict=False)`; `applyDelta` does the same here.
 *  - a merged model: a complete HF folder (config with id2label, model.safetensors, tokenizer files) that
 *    our loader and HF's `from_pretrained` both read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../backend/tf';
import { PeftStudioError } from '../errors';
import { makeDirs, writeFileAtomic } from '../io/atomic';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../io/safetensors';
import { loadModel } from '../model/load';
import { EncoderModel } from '../model/model';
import { OverlayParamStore, type ParamStore } from '../model/params';
import { isHeadParam } from '../peft/names';
import type { EncoderConfig, ProblemType } from '../model/config';
import { TRAINABLE_INIT } from '../peft/adapter-files';
import { createPeftMethod } from '../peft/registry';
import type { AdapterExport, PeftMethod } from '../peft/types';
import type { StartedEvent } from '../protocol/events';
import { listCheckpoints, loadCheckpoint, resolveCheckpoint } from './checkpoint';
import { normalizeStoredConfig, type RunConfig } from './config';
import { CONFIG_FILE, readEvents } from './run-dir';

export const DELTA_FILE = 'delta.safetensors';
export const MANIFEST_FILE = 'delta.json';
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt', 'vocab.json', 'merges.txt', 'added_tokens.json'];

export interface RunInfo {
  runDir: string;
  config: RunConfig;
  started: StartedEvent;
  /** Best checkpoint if the run recorded one, else the latest. */
  defaultCheckpoint: string;
}

export function readRunInfo(runDir: string): RunInfo {
  const cfgFile = path.join(runDir, CONFIG_FILE);
  if (!fs.existsSync(cfgFile)) throw new PeftStudioError('MISSING_FILE', `${runDir}: not a run folder (no ${CONFIG_FILE})`, runDir);
  const config = normalizeStoredConfig(JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as Record<string, unknown>);
  const { events } = readEvents(runDir);
  const started = events.find((e): e is StartedEvent => e.type === 'started');
  if (!started) throw new PeftStudioError('BAD_INPUT', `${runDir}: events.jsonl has no "started" event`, runDir);
  const end = [...events].reverse().find((e) => e.type === 'finished' || e.type === 'stopped' || e.type === 'failed');
  const best = end && 'bestCheckpoint' in end ? end.bestCheckpoint : undefined;
  const all = listCheckpoints(runDir);
  const defaultCheckpoint = best && fs.existsSync(best) ? best : all[all.length - 1];
  if (!defaultCheckpoint) throw new PeftStudioError('MISSING_FILE', `${runDir}: the run has no checkpoint yet`, runDir);
  return { runDir, config, started, defaultCheckpoint };
}

const PROBLEM: Record<string, ProblemType> = {
  classification: 'single_label_classification',
  regression: 'regression',
  multi_label: 'multi_label_classification',
};

/** The base model as the run built it (same labels, same seeded fresh head), before training. */
export function loadRunBaseModel(info: RunInfo, shared?: SharedBases): { model: EncoderModel; initialized: string[] } {
  const d = info.started.data;
  const id2label = Object.fromEntries(Object.entries(d.id2label).map(([k, v]) => [Number(k), v]));
  const opts = {
    head: 'sequence-classification' as const,
    numLabels: d.numLabels,
    id2label: Object.keys(id2label).length === d.numLabels ? id2label : undefined,
    problemType: PROBLEM[d.task],
    seed: info.config.seed,
  };
  // A run that started from another run's trained model has an encoder of its own: never the shared one.
  if (info.config.init_checkpoint) {
    const { model } = loadModel(info.config.model, opts);
    try {
      loadInitCheckpoint(model, info.config.init_checkpoint);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return { model, initialized: [] };
  }
  if (!shared) return loadModel(info.config.model, opts);
  // Only the run's head is built; the encoder is the shared one, read through an overlay.
  const { model: head, initialized } = loadModel(info.config.model, { ...opts, only: isHeadParam });
  const params = new OverlayParamStore(shared.encoder(info.config.model));
  for (const [name, t] of head.params.entries()) params.set(name, t);
  return { model: new EncoderModel(head.config, params, head.head), initialized };
}

/**
 * A run started from another run's trained model (`train --model RUN|CHECKPOINT`): that model, merged
 * (what `export --merged` writes), becomes this run's starting weights, tensor by tensor.
 */
export function loadInitCheckpoint(model: EncoderModel, checkpoint: string): void {
  const from = loadTrainedModel(path.dirname(path.dirname(checkpoint)), checkpoint);
  try {
    from.method.merge();
    for (const [name, t] of from.model.params.entries()) {
      if (!model.params.has(name) || model.params.get(name).shape.join() !== t.shape.join()) {
        throw new PeftStudioError('WEIGHTS_MISMATCH', `${checkpoint}: its ${name} does not fit this run's model — is it the same base model and the same labels?`, checkpoint);
      }
    }
    for (const [name, t] of from.model.params.entries()) model.params.set(name, tf.clone(t));
  } finally {
    from.model.dispose();
  }
}

/** The model config a run that starts from `checkpoint` sees: its base model's, with the trained run's labels and task. */
export function initCheckpointConfig(base: EncoderConfig, checkpoint: string): EncoderConfig {
  const d = readRunInfo(path.dirname(path.dirname(checkpoint))).started.data;
  const id2label = Object.fromEntries(Object.entries(d.id2label).map(([k, v]) => [Number(k), v]));
  const label2id = Object.fromEntries(Object.entries(id2label).map(([k, v]) => [v, Number(k)]));
  return { ...base, architecture: ARCH[base.family] ?? base.architecture, numLabels: d.numLabels, id2label, label2id, problemType: PROBLEM[d.task] ?? null };
}

/**
 * Encoders loaded once and shared by every task model opened on them (the predict worker's "one base, many
 * task adapters"): each model is the base plus its own head and method tensors (OverlayParamStore).
 */
export class SharedBases {
  private readonly encoders = new Map<string, ParamStore>();

  encoder(modelDir: string): ParamStore {
    const key = path.resolve(modelDir);
    let store = this.encoders.get(key);
    if (!store) {
      store = loadModel(modelDir, { head: 'sequence-classification', only: (n) => !isHeadParam(n) }).model.params;
      this.encoders.set(key, store);
    }
    return store;
  }

  /** Model folders whose encoder is loaded. */
  loaded(): string[] {
    return [...this.encoders.keys()];
  }

  /** Frees an encoder (every model opened on it must be disposed first), or all of them. */
  release(modelDir?: string): void {
    for (const [key, store] of this.encoders) {
      if (modelDir !== undefined && key !== path.resolve(modelDir)) continue;
      store.dispose();
      this.encoders.delete(key);
    }
  }
}

export interface TrainedModel {
  model: EncoderModel;
  /** The run's method, applied to `model` with the checkpoint's tensors (its hooks are live). */
  method: PeftMethod;
  info: RunInfo;
  checkpoint: string;
  initialized: string[];
}

/** The trained model of a run: base model + its method + a checkpoint's tensors (default: best, else latest). */
export function loadTrainedModel(runDir: string, checkpoint?: string, shared?: SharedBases): TrainedModel {
  const info = readRunInfo(runDir);
  const ckptDir = checkpoint ? resolveCheckpoint(checkpoint) : info.defaultCheckpoint;
  const ckpt = loadCheckpoint(ckptDir);
  const { model, initialized } = loadRunBaseModel(info, shared);
  try {
    const method = createPeftMethod(info.config.method);
    method.apply(model, { seed: info.config.seed, notices: [], training: false });
    method.loadTensors(ckpt.tensors, ckptDir);
    return { model, method, info, checkpoint: ckptDir, initialized };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

export interface DeltaManifest {
  format: 'peft-studio-delta';
  version: 1;
  base_model: string;
  method: string;
  /** The method's settings (BitFit: bias_terms, train_head). */
  settings: Record<string, unknown>;
  /** Tensors that training changed. */
  trained: string[];
  /** Tensors the base checkpoint lacks (fresh head), included so the delta reproduces the model. */
  initialized: string[];
  id2label: Record<string, string>;
  problem_type: ProblemType;
  step: number;
  checkpoint: string;
  metrics?: Record<string, number>;
  created: string;
}

export async function exportDelta(runDir: string, outDir: string, checkpoint?: string): Promise<{ file: string; manifest: string; bytes: number }> {
  const { model, method, info, checkpoint: ckptDir, initialized } = loadTrainedModel(runDir, checkpoint);
  try {
    if (model.params.names().length !== model.specs.length) {
      throw new PeftStudioError('UNSUPPORTED', `${runDir}: a ${method.name} run adds tensors of its own, so it has no delta of HF tensors — export it with --adapter (the reference library's files) or --merged`, runDir);
    }
    const ckpt = loadCheckpoint(ckptDir);
    const trained = [...ckpt.tensors.keys()];
    const names = [...new Set([...trained, ...initialized])];
    const tensors: TensorToWrite[] = [];
    for (const name of names) {
      const t = model.params.get(name);
      tensors.push({ name, dtype: 'F32', shape: t.shape, data: (await t.data()) as Float32Array });
    }
    makeDirs(outDir, 'create export folder');
    const file = path.join(outDir, DELTA_FILE);
    writeSafetensors(file, tensors, { format: 'pt', producer: 'peft-studio', method: method.name });
    const evals = readEvents(runDir).events.filter((e) => e.type === 'eval' && e.step === ckpt.state.step);
    const manifest: DeltaManifest = {
      format: 'peft-studio-delta',
      version: 1,
      base_model: info.config.model,
      method: method.name,
      settings: Object.fromEntries(Object.entries(info.config.method).filter(([k]) => k !== 'name')),
      trained,
      initialized,
      id2label: Object.fromEntries(Object.entries(model.config.id2label).map(([k, v]) => [String(k), v])),
      problem_type: model.config.problemType ?? 'single_label_classification',
      step: ckpt.state.step,
      checkpoint: ckptDir,
      metrics: evals.length ? (evals[evals.length - 1] as { metrics: Record<string, number> }).metrics : undefined,
      created: new Date().toISOString(),
    };
    const manifestFile = path.join(outDir, MANIFEST_FILE);
    writeFileAtomic(manifestFile, JSON.stringify(manifest, null, 2) + '\n');
    return { file, manifest: manifestFile, bytes: fs.statSync(file).size };
  } finally {
    model.dispose();
  }
}

/** Loads a delta into a model in place, like `load_state_dict(strict=False)` but refusing unknown names and wrong shapes. */
export function applyDelta(model: EncoderModel, deltaFile: string): string[] {
  const { tensors } = readSafetensors(deltaFile);
  const applied: string[] = [];
  for (const [name, t] of tensors) {
    if (!model.params.has(name)) throw new PeftStudioError('WEIGHTS_MISMATCH', `${deltaFile}: ${name} is not a tensor of this model`, deltaFile);
    const shape = model.params.get(name).shape;
    if (shape.join() !== t.shape.join()) {
      throw new PeftStudioError('WEIGHTS_MISMATCH', `${deltaFile}: ${name} has shape [${t.shape}], the model's is [${shape}]`, deltaFile);
    }
    model.params.set(name, tf.tensor(t.data, t.shape, 'float32'));
    applied.push(name);
  }
  return applied;
}

const ARCH: Record<string, string> = {
  bert: 'BertForSequenceClassification',
  roberta: 'RobertaForSequenceClassification',
  distilbert: 'DistilBertForSequenceClassification',
};

/** A complete HF model folder with the trained tensors merged in (LoRA: W += s·B·A, PEFT's merge_and_unload). */
export async function exportMerged(runDir: string, outDir: string, checkpoint?: string): Promise<{ dir: string; bytes: number }> {
  const { model, method, info } = loadTrainedModel(runDir, checkpoint);
  try {
    method.merge(); // throws, saying why, for methods that cannot be merged
    return await writeModelFolder(model, outDir, info.config.model);
  } finally {
    model.dispose();
  }
}

/**
 * A model as a complete HF folder: config.json (the model's config with its labels, plus `configPatch`),
 * model.safetensors (its own tensors, renamed by `rename`; undefined drops one) and the tokenizer files of
 * `tokenizerDir`. What `from_pretrained` and this engine load.
 */
export async function writeModelFolder(
  model: EncoderModel,
  outDir: string,
  tokenizerDir: string,
  opts: { configPatch?: Record<string, unknown>; rename?: (name: string) => string | undefined } = {},
): Promise<{ dir: string; bytes: number }> {
  const c = model.config;
  const own = new Set(model.specs.map((sp) => sp.name));
  const tensors: TensorToWrite[] = [];
  for (const [name, t] of model.params.entries()) {
    if (!own.has(name)) continue; // a method's own tensors are not part of an HF model
    const to = opts.rename ? opts.rename(name) : name;
    if (to !== undefined) tensors.push({ name: to, dtype: 'F32', shape: t.shape, data: (await t.data()) as Float32Array });
  }
  makeDirs(outDir, 'create export folder');
  const config = {
    ...c.raw,
    architectures: [ARCH[c.family]],
    id2label: Object.fromEntries(Object.entries(c.id2label).map(([k, v]) => [String(k), v])),
    label2id: c.label2id,
    num_labels: undefined,
    problem_type: c.problemType ?? undefined,
    ...opts.configPatch,
  };
  writeFileAtomic(path.join(outDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  writeSafetensors(path.join(outDir, 'model.safetensors'), tensors, { format: 'pt' });
  for (const f of TOKENIZER_FILES) {
    const src = path.join(tokenizerDir, f);
    if (!fs.existsSync(src)) continue;
    const dst = path.join(outDir, f);
    fs.copyFileSync(src, dst);
    fs.chmodSync(dst, 0o644); // the source may be read-only; the export is the user's to edit
  }
  return { dir: outDir, bytes: fs.statSync(path.join(outDir, 'model.safetensors')).size };
}

/**
 * The run's method as its reference library saves it (HF PEFT: adapter_config.json + adapter_model.safetensors;
 * AdapterHub: adapter_config.json + weights + head), plus `trainable_init.safetensors` (every trainable tensor
 * under our names) so `train --adapter` continues exactly.
 */
export async function exportAdapter(runDir: string, outDir: string, checkpoint?: string): Promise<AdapterExport> {
  const { model, method, info } = loadTrainedModel(runDir, checkpoint);
  try {
    if (!method.exportAdapter) {
      throw new PeftStudioError(
        'UNSUPPORTED',
        `${runDir}: ${method.name} has no adapter format of HF PEFT or AdapterHub — export it with --delta (only the changed tensors) or --merged (a plain HF model folder)`,
        runDir,
      );
    }
    const id2label = Object.fromEntries(Object.entries(model.config.id2label).map(([k, v]) => [String(k), v]));
    const r = await method.exportAdapter(outDir, { baseModel: info.config.model, id2label, problemType: model.config.problemType ?? 'single_label_classification' });
    const exact = path.join(outDir, TRAINABLE_INIT);
    const tensors = await method.exportTensors();
    const libraryName = method.libraryName?.bind(method) ?? ((n: string) => n);
    writeSafetensors(exact, [...tensors].map(([name, t]) => ({ name: libraryName(name), dtype: 'F32' as const, shape: t.shape, data: t.data })), { format: 'pt', producer: 'peft-studio', method: method.name });
    return { ...r, files: [...r.files, exact], bytes: r.bytes + fs.statSync(exact).size };
  } finally {
    model.dispose();
  }
}
