/**
 * Adapter folders as the reference libraries write them: a JSON config plus weights. HF PEFT:
 * `adapter_config.json` + `adapter_model.safetensors` (or the older `adapter_model.bin`); AdapterHub:
 * `adapter_config.json` + `pytorch_adapter.bin` (ours: `adapter_model.safetensors`) and a head file.
 * Torch `.bin` files go through the strict state-dict reader, which never executes the pickle.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeftStudioError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { readSafetensors, writeSafetensors } from '../io/safetensors';
import { readTorchBin } from '../io/torch-pickle';
import type { StateDict } from '../io/types';
import type { HostTensors } from './types';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
/** Every trainable tensor under our checkpoint names, so a run can continue from an export exactly. */
export const TRAINABLE_INIT = 'trainable_init.safetensors';

export function readAdapterConfig(dir: string): Record<string, unknown> {
  const file = path.join(dir, ADAPTER_CONFIG);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new PeftStudioError('MISSING_FILE', `${dir}: not an adapter folder (no such directory)`, dir);
  if (!fs.existsSync(file)) throw new PeftStudioError('MISSING_FILE', `${dir}: not an adapter folder (no ${ADAPTER_CONFIG})`, file);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new PeftStudioError('BAD_CONFIG', `${file}: not valid JSON (${(e as Error).message})`, file);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PeftStudioError('BAD_CONFIG', `${file}: expected a JSON object`, file);
  return raw as Record<string, unknown>;
}

/** The first weights file of `candidates` that exists in `dir`, read as float32 tensors. */
export function readAdapterWeights(dir: string, candidates: string[]): { file: string; tensors: StateDict } {
  for (const name of candidates) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) continue;
    const tensors = name.endsWith('.safetensors') ? readSafetensors(file).tensors : readTorchBin(file);
    for (const [key, t] of tensors) {
      if (!(t.data instanceof Float32Array)) throw new PeftStudioError('BAD_WEIGHTS', `${file}: tensor ${key} is ${t.dtype}, expected floating point`, file);
    }
    return { file, tensors };
  }
  throw new PeftStudioError('MISSING_FILE', `${dir}: no adapter weights (looked for ${candidates.join(', ')})`, dir);
}

/** Tensors of a state dict as host float32 tensors, by a renaming (undefined: skip). */
export function renameTensors(tensors: StateDict, rename: (key: string) => string | undefined): HostTensors {
  const out: HostTensors = new Map();
  for (const [key, t] of tensors) {
    const name = rename(key);
    if (name !== undefined) out.set(name, { shape: t.shape, data: t.data as Float32Array });
  }
  return out;
}

export function writeAdapterFiles(dir: string, config: Record<string, unknown>, weights: Array<{ file: string; tensors: HostTensors }>): { files: string[]; bytes: number } {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const cfg = path.join(dir, ADAPTER_CONFIG);
  writeFileAtomic(cfg, JSON.stringify(config, null, 2) + '\n');
  files.push(cfg);
  for (const w of weights) {
    const file = path.join(dir, w.file);
    writeSafetensors(
      file,
      [...w.tensors].map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape, data: t.data })),
      { format: 'pt' },
    );
    files.push(file);
  }
  return { files, bytes: files.reduce((a, f) => a + fs.statSync(f).size, 0) };
}
