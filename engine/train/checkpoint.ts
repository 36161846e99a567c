/**
 * Checkpoints: `<run>/checkpoints/step-00000120/` holding the trained tensors (HF names), the optimizer's
 * moments, and `state.json` (step, epoch position, best metric). A checkpoint is written into a hidden
 * temp folder, fsynced, then renamed into place, so a crash or a full disk mid-write leaves the previous
 * checkpoints untouched and never a half-written one under a real name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PeftStudioError } from '../errors';
import { ioError } from '../io/atomic';
import { readSafetensors, serializeSafetensors, type TensorToWrite } from '../io/safetensors';
import type { AdamWState } from './optim/adamw';

export interface CheckpointState {
  format: 1;
  step: number;
  /** Completed epochs and batches done in the current one: where the data order resumes. */
  epoch: number;
  batchInEpoch: number;
  method: string;
  bestMetric?: { name: string; value: number; step: number; checkpoint: string };
  time: string;
}

export interface Checkpoint {
  dir: string;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  optimizer: AdamWState;
  state: CheckpointState;
}

export const CHECKPOINTS = 'checkpoints';
const TENSORS = 'trainable.safetensors';
const OPTIMIZER = 'optimizer.safetensors';
const STATE = 'state.json';

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/** Injected for tests that simulate a full disk; defaults to node:fs. */
export interface CheckpointFs {
  writeFileSync(file: string, data: Uint8Array | string): void;
}

export function saveCheckpoint(
  runDir: string,
  tensors: Map<string, { shape: number[]; data: Float32Array }>,
  optimizer: AdamWState,
  state: CheckpointState,
  fsImpl: CheckpointFs = fs,
): string {
  const root = path.join(runDir, CHECKPOINTS);
  const final = path.join(root, checkpointName(state.step));
  const tmp = path.join(root, `.tmp-${checkpointName(state.step)}-${randomBytes(4).toString('hex')}`);
  try {
    fs.mkdirSync(tmp, { recursive: true });
    const weights: TensorToWrite[] = [...tensors].map(([name, t]) => ({ name, dtype: 'F32', shape: t.shape, data: t.data }));
    const moments: TensorToWrite[] = [];
    for (const [name, t] of tensors) {
      const m = optimizer.m[name];
      const v = optimizer.v[name];
      if (!m || !v) throw new PeftStudioError('TRAINING', `optimizer has no state for ${name}`);
      moments.push({ name: `exp_avg.${name}`, dtype: 'F32', shape: t.shape, data: m });
      moments.push({ name: `exp_avg_sq.${name}`, dtype: 'F32', shape: t.shape, data: v });
    }
    writeDurable(path.join(tmp, TENSORS), serializeSafetensors(weights, { format: 'pt', producer: 'peft-studio' }), fsImpl);
    writeDurable(path.join(tmp, OPTIMIZER), serializeSafetensors(moments, { step: String(optimizer.step) }), fsImpl);
    writeDurable(path.join(tmp, STATE), JSON.stringify(state, null, 2) + '\n', fsImpl);
    if (fs.existsSync(final)) fs.rmSync(final, { recursive: true, force: true });
    fs.renameSync(tmp, final);
    fsyncDir(root);
    return final;
  } catch (e) {
    try {
      fs.rmSync(tmp, { recursive: true, force: true });
    } catch {
      // the folder could not even be created (ENOTDIR, EACCES …): nothing to clean, report the cause below
    }
    if (e instanceof PeftStudioError) throw e;
    throw ioError(final, e, 'write checkpoint');
  }
}

function writeDurable(file: string, data: Uint8Array | string, fsImpl: CheckpointFs): void {
  fsImpl.writeFileSync(file, data);
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } catch {
    // directories cannot be fsynced everywhere; the rename is atomic regardless
  }
}

export function loadCheckpoint(dir: string): Checkpoint {
  for (const f of [TENSORS, OPTIMIZER, STATE]) {
    if (!fs.existsSync(path.join(dir, f))) {
      throw new PeftStudioError('MISSING_FILE', `${dir}: not a complete checkpoint (no ${f})`, dir);
    }
  }
  const state = JSON.parse(fs.readFileSync(path.join(dir, STATE), 'utf8')) as CheckpointState;
  if (state.format !== 1 || !Number.isInteger(state.step)) {
    throw new PeftStudioError('BAD_INPUT', `${path.join(dir, STATE)}: unrecognised checkpoint state`, dir);
  }
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of readSafetensors(path.join(dir, TENSORS)).tensors) tensors.set(name, { shape: t.shape, data: t.data as Float32Array });
  const opt = readSafetensors(path.join(dir, OPTIMIZER));
  const m: Record<string, Float32Array> = {};
  const v: Record<string, Float32Array> = {};
  for (const [name, t] of opt.tensors) {
    if (name.startsWith('exp_avg_sq.')) v[name.slice('exp_avg_sq.'.length)] = t.data as Float32Array;
    else if (name.startsWith('exp_avg.')) m[name.slice('exp_avg.'.length)] = t.data as Float32Array;
  }
  return { dir, tensors, optimizer: { step: Number(opt.metadata.step ?? state.step), m, v }, state };
}

/** Checkpoint folders of a run, oldest first (temp folders of interrupted writes are not listed). */
export function listCheckpoints(runDir: string): string[] {
  const root = path.join(runDir, CHECKPOINTS);
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .filter((d) => /^step-\d{8}$/.test(d))
    .sort()
    .map((d) => path.join(root, d));
}

/** A checkpoint folder as given, or a run folder's latest checkpoint. */
export function resolveCheckpoint(p: string): string {
  if (fs.existsSync(path.join(p, STATE))) return p;
  const all = listCheckpoints(p);
  if (!all.length) throw new PeftStudioError('MISSING_FILE', `${p}: neither a checkpoint nor a run folder with checkpoints`, p);
  return all[all.length - 1]!;
}

/** Keeps the newest `limit` checkpoints plus `keep` (the best); removes the rest and stale temp folders. */
export function pruneCheckpoints(runDir: string, limit: number, keep?: string): void {
  const root = path.join(runDir, CHECKPOINTS);
  const all = listCheckpoints(runDir);
  const doomed = limit > 0 ? all.slice(0, Math.max(0, all.length - limit)) : [];
  for (const dir of doomed) if (dir !== keep) fs.rmSync(dir, { recursive: true, force: true });
  if (fs.existsSync(root)) {
    for (const d of fs.readdirSync(root)) if (d.startsWith('.tmp-')) fs.rmSync(path.join(root, d), { recursive: true, force: true });
  }
}
