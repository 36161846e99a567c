/**
 * What a "model" argument may name: a HuggingFace model folder, a run folder (its best checkpoint, the one
 * `eval --run` picks) or one of a run's checkpoint folders. `predict`, `eval --model`, Try It and
 * `train --model` resolve the argument here; a run is then loaded the one way there is (`loadTrainedModel`:
 * base model + the run's method + the checkpoint's tensors), so every training method works alike.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeftStudioError } from '../errors';
import { CHECKPOINTS, listCheckpoints } from '../train/checkpoint';
import { CONFIG_FILE, EVENTS_FILE, readEvents } from '../train/run-dir';

export type ModelSource =
  | { kind: 'model'; dir: string }
  /** `chosen`: the checkpoint was named (`given`), or is the run's best, or its latest (no eval ranked one). */
  | { kind: 'run'; runDir: string; checkpoint: string; chosen: 'given' | 'best' | 'latest' };

export function isRunDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, CONFIG_FILE)) && fs.existsSync(path.join(dir, EVENTS_FILE));
}

export function isCheckpointDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'state.json')) && fs.existsSync(path.join(dir, 'trainable.safetensors'));
}

export function resolveModelSource(p: string): ModelSource {
  const dir = path.resolve(p);
  if (isCheckpointDir(dir)) {
    const runDir = path.dirname(path.dirname(dir));
    if (path.basename(path.dirname(dir)) !== CHECKPOINTS || !isRunDir(runDir)) {
      throw new PeftStudioError(
        'BAD_INPUT',
        `${dir}: a checkpoint outside its run folder — it holds only the trained tensors; the run's config.json and events.jsonl (in <run>/, above <run>/${CHECKPOINTS}/step-…) say which base model and method they belong to`,
        dir,
      );
    }
    return { kind: 'run', runDir, checkpoint: dir, chosen: 'given' };
  }
  if (isRunDir(dir)) {
    // The checkpoint readRunInfo (export.ts) defaults to: the best one the run recorded, else the latest.
    const end = [...readEvents(dir).events].reverse().find((e) => e.type === 'finished' || e.type === 'stopped' || e.type === 'failed');
    const best = end && 'bestCheckpoint' in end ? end.bestCheckpoint : undefined;
    if (best && isCheckpointDir(best)) return { kind: 'run', runDir: dir, checkpoint: best, chosen: 'best' };
    const latest = listCheckpoints(dir).at(-1);
    if (!latest) throw new PeftStudioError('MISSING_FILE', `${dir}: the run has no checkpoint yet — wait for its first one, or stop it (stopping writes one)`, dir);
    return { kind: 'run', runDir: dir, checkpoint: latest, chosen: 'latest' };
  }
  return { kind: 'model', dir };
}

/** The HF model folder a run started from (its config's `model`). */
export function runBaseModel(runDir: string): string {
  const file = path.join(runDir, CONFIG_FILE);
  const model = (JSON.parse(fs.readFileSync(file, 'utf8')) as { model?: unknown }).model;
  if (typeof model !== 'string') throw new PeftStudioError('BAD_INPUT', `${file}: has no "model"`, file);
  return model;
}

/** The name of a run's method (its config's `method`, a name or `{ name, … }`; runs before methods had names were BitFit's). */
export function runMethodName(runDir: string): string {
  const method = (JSON.parse(fs.readFileSync(path.join(runDir, CONFIG_FILE), 'utf8')) as { method?: unknown }).method;
  if (typeof method === 'string') return method;
  if (typeof method === 'object' && method !== null && typeof (method as { name?: unknown }).name === 'string') return (method as { name: string }).name;
  return 'bitfit';
}

/** "run R, checkpoint step-00000125 (its best: accuracy 0.7100)", for the line that says what was loaded. */
export function describeModelSource(src: ModelSource): string {
  if (src.kind === 'model') return src.dir;
  const { events } = readEvents(src.runDir);
  const step = Number(/step-(\d+)$/.exec(src.checkpoint)?.[1] ?? NaN);
  const evalAt = events.filter((e) => e.type === 'eval' && e.step === step).at(-1);
  const metric = evalAt?.type === 'eval' && evalAt.metrics[evalAt.primary] !== undefined ? `${evalAt.primary} ${evalAt.metrics[evalAt.primary]!.toFixed(4)}` : undefined;
  const end = [...events].reverse().find((e) => e.type === 'finished' || e.type === 'stopped' || e.type === 'failed');
  const best = end && 'bestCheckpoint' in end && end.bestCheckpoint && path.resolve(end.bestCheckpoint) === path.resolve(src.checkpoint);
  const why = best ? 'its best' : src.chosen === 'latest' ? 'its latest; no evaluation ranked one best' : 'as given';
  return `run ${src.runDir}, checkpoint ${path.basename(src.checkpoint)} (${why}${metric ? `: ${metric}` : ''})`;
}
