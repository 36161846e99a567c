/**
 * Loads the weights of an HF model folder, trying the formats in the order `from_pretrained` prefers:
 * safetensors (single, then sharded), then pytorch_model.bin (single, then sharded) through the strict
 * pickle reader. TF and Flax checkpoints are recognised only to say how to convert them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeftStudioError } from '../errors';
import { readFileOrThrow, readSafetensors } from './safetensors';
import { readTorchBin } from './torch-pickle';
import type { StateDict } from './types';

export type WeightsFormat = 'safetensors' | 'safetensors-sharded' | 'pytorch' | 'pytorch-sharded';

export interface LoadedStateDict {
  tensors: StateDict;
  /** The files read (joined onto `dir`), in reading order; for sharded checkpoints the index comes first. */
  files: string[];
  format: WeightsFormat;
  /** Facts worth telling the user (ignored alternative files, dtype conversions). */
  notices: string[];
}

const SAFETENSORS = 'model.safetensors';
const SAFETENSORS_INDEX = 'model.safetensors.index.json';
const BIN = 'pytorch_model.bin';
const BIN_INDEX = 'pytorch_model.bin.index.json';
const ACCEPTED = `${SAFETENSORS}, ${SAFETENSORS_INDEX} (+ shards), ${BIN} or ${BIN_INDEX} (+ shards)`;

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PeftStudioError('MISSING_FILE', `Model folder ${dir} does not exist.`, dir);
    if (code === 'ENOTDIR') throw new PeftStudioError('MISSING_FILE', `${dir} is a file, not a model folder.`, dir);
    throw new PeftStudioError('IO', `Cannot list model folder ${dir}: ${(err as Error).message}`, dir);
  }
}

function describeFolder(names: string[]): string {
  if (names.length === 0) return 'it is empty';
  const shown = names.slice(0, 20).join(', ');
  return `it contains: ${shown}${names.length > 20 ? `, … (${names.length} entries)` : ''}`;
}

/** Reads an HF shard index and groups its tensor names by shard, in order of first appearance. */
function readIndex(indexFile: string, dir: string): Map<string, Set<string>> {
  let index: unknown;
  try {
    index = JSON.parse(Buffer.from(readFileOrThrow(indexFile)).toString('utf8'));
  } catch (err) {
    if (err instanceof PeftStudioError) throw err;
    throw new PeftStudioError('BAD_WEIGHTS', `${indexFile}: not valid JSON (${(err as Error).message}).`, indexFile);
  }
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new PeftStudioError('BAD_WEIGHTS', `${indexFile}: missing the "weight_map" object of tensor name → shard file.`, indexFile);
  }
  const shards = new Map<string, Set<string>>();
  for (const [name, shard] of Object.entries(map)) {
    // Shards must be plain files of this folder: an index must not send us reading elsewhere.
    if (typeof shard !== 'string' || shard !== path.basename(shard) || shard === '.' || shard === '..' || shard === '') {
      throw new PeftStudioError('BAD_WEIGHTS', `${indexFile}: tensor "${name}" maps to ${JSON.stringify(shard)}, which is not a file name in ${dir}.`, indexFile);
    }
    if (!shards.has(shard)) shards.set(shard, new Set());
    shards.get(shard)!.add(name);
  }
  if (shards.size === 0) throw new PeftStudioError('BAD_WEIGHTS', `${indexFile}: "weight_map" is empty.`, indexFile);
  return shards;
}

function loadSharded(dir: string, indexName: string, read: (file: string) => StateDict): { tensors: StateDict; files: string[] } {
  const indexFile = path.join(dir, indexName);
  const shards = readIndex(indexFile, dir);
  const missing = [...shards.keys()].filter((s) => !fs.existsSync(path.join(dir, s)));
  if (missing.length) {
    throw new PeftStudioError('MISSING_FILE', `${indexFile} names shard(s) that are not in ${dir}: ${missing.join(', ')}. Download the missing files.`, path.join(dir, missing[0]!));
  }
  const tensors: StateDict = new Map();
  const where = new Map<string, string>();
  const files = [indexFile];
  for (const shard of shards.keys()) {
    const file = path.join(dir, shard);
    files.push(file);
    for (const [name, t] of read(file)) {
      if (where.has(name)) {
        throw new PeftStudioError('BAD_WEIGHTS', `Tensor "${name}" appears in both ${where.get(name)} and ${shard} (index ${indexFile}).`, file);
      }
      where.set(name, shard);
      tensors.set(name, t);
    }
  }
  // Only now, knowing where every tensor really is, can a mismatch be reported precisely.
  const mapped = new Map<string, string>();
  for (const [shard, names] of shards) for (const n of names) mapped.set(n, shard);
  for (const [name, actual] of where) {
    const expected = mapped.get(name);
    if (expected !== actual) {
      const file = path.join(dir, actual);
      const says = expected ? `maps it to ${expected}` : 'does not list it';
      throw new PeftStudioError('BAD_WEIGHTS', `${file}: tensor "${name}" is in shard ${actual}, but ${indexName} ${says}.`, file);
    }
  }
  const absent = [...mapped].filter(([n]) => !where.has(n));
  if (absent.length) {
    const file = path.join(dir, absent[0]![1]);
    const list = absent.slice(0, 5).map(([n, s]) => `${n} (→ ${s})`).join(', ');
    throw new PeftStudioError('BAD_WEIGHTS', `${indexFile} lists ${absent.length} tensor(s) that no shard contains: ${list}${absent.length > 5 ? ', …' : ''}.`, file);
  }
  return { tensors, files };
}

function dtypeNotices(tensors: StateDict): string[] {
  const count = (d: string) => [...tensors.values()].filter((t) => t.dtype === d).length;
  const notices: string[] = [];
  for (const d of ['F16', 'BF16']) if (count(d)) notices.push(`${count(d)} ${d} tensors widened to float32`);
  if (count('F64')) notices.push(`${count('F64')} F64 tensors narrowed to float32`);
  return notices;
}

export function loadStateDict(dir: string): LoadedStateDict {
  const names = listDir(dir);
  const has = (n: string) => names.includes(n);
  const ignored = (used: string) => {
    const others = [SAFETENSORS, SAFETENSORS_INDEX, BIN, BIN_INDEX, 'tf_model.h5', 'flax_model.msgpack'].filter((n) => n !== used && has(n));
    return others.length ? [`weights read from ${used}; also present and ignored: ${others.join(', ')}`] : [];
  };
  const done = (tensors: StateDict, files: string[], format: WeightsFormat, used: string, extra: string[] = []): LoadedStateDict => ({
    tensors,
    files,
    format,
    notices: [...ignored(used), ...extra, ...dtypeNotices(tensors)],
  });
  const strictNote = 'read pytorch_model.bin with the strict tensor-only reader; converting it to model.safetensors loads faster';

  if (has(SAFETENSORS)) {
    const file = path.join(dir, SAFETENSORS);
    return done(readSafetensors(file).tensors, [file], 'safetensors', SAFETENSORS);
  }
  if (has(SAFETENSORS_INDEX)) {
    const { tensors, files } = loadSharded(dir, SAFETENSORS_INDEX, (f) => readSafetensors(f).tensors);
    return done(tensors, files, 'safetensors-sharded', SAFETENSORS_INDEX);
  }
  if (has(BIN)) {
    const file = path.join(dir, BIN);
    return done(readTorchBin(file), [file], 'pytorch', BIN, [strictNote]);
  }
  if (has(BIN_INDEX)) {
    const { tensors, files } = loadSharded(dir, BIN_INDEX, readTorchBin);
    return done(tensors, files, 'pytorch-sharded', BIN_INDEX, [strictNote]);
  }
  const foreign = ['tf_model.h5', 'flax_model.msgpack'].filter(has);
  if (foreign.length) {
    const flag = foreign[0] === 'tf_model.h5' ? 'from_tf' : 'from_flax';
    throw new PeftStudioError(
      'UNSUPPORTED',
      `${dir} holds only ${foreign.join(' and ')}; PEFT Studio reads ${ACCEPTED}. Convert with transformers, using the ` +
        `model class that matches its head, e.g.:\n  python -c "from transformers import AutoModelForSequenceClassification as M; ` +
        `M.from_pretrained('${dir}', ${flag}=True).save_pretrained('${dir}', safe_serialization=True)"`,
      path.join(dir, foreign[0]!),
    );
  }
  throw new PeftStudioError('MISSING_FILE', `No model weights in ${dir}: expected ${ACCEPTED}; ${describeFolder(names)}.`, dir);
}
