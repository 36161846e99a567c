/**
 * Teacher outputs, computed once per example and kept for the whole run: logits [N, L] and, for the cosine
 * term, the last layer's [CLS] row [N, H]. On disk under `<runs_dir>/.teacher-cache/<key>.safetensors`,
 * keyed by the teacher's identity, the data file's content and the max length, so a second run (or a
 * resumed one) costs no teacher pass; a file that is unreadable, of another key or shape, or not finite
 * is rebuilt, never trusted. Files larger than `cache_max_mib` stay in memory only.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, tidy } from '../backend/tf';
import { readSafetensors, writeSafetensors } from '../io/safetensors';
import type { EncoderModel } from '../model/model';
import type { ProblemType } from '../model/config';
import { disposeBatch, makeTensorBatch, type EncodedSet } from '../train/batches';

export interface TeacherOutputs {
  logits: Float32Array; // [N, L]
  numLabels: number;
  cls?: Float32Array; // [N, H]
  hidden: number;
  /** 'disk' when read from a valid cache file, 'computed' otherwise. */
  source: 'disk' | 'computed';
  file?: string;
}

export function cacheKey(parts: { teacher: string; dataFile: string; maxLength: number; withCls: boolean; split: string }): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ ...parts, dataFile: undefined }));
  h.update(fs.readFileSync(parts.dataFile)); // content, not a path: an edited file is a new key
  return h.digest('hex').slice(0, 24);
}

export async function teacherOutputs(
  teacher: EncoderModel,
  set: EncodedSet,
  opts: { padId: number; problem: ProblemType; withCls: boolean; key: string; cacheDir: string; maxMiB: number; batchSize?: number },
): Promise<TeacherOutputs> {
  const n = set.lengths.length;
  const L = teacher.config.numLabels;
  const H = teacher.config.hiddenSize;
  const file = path.join(opts.cacheDir, `${opts.key}.safetensors`);
  const cached = readValid(file, opts.key, n, L, opts.withCls ? H : 0);
  if (cached) return { ...cached, numLabels: L, hidden: H, source: 'disk', file };
  const logits = new Float32Array(n * L);
  const cls = opts.withCls ? new Float32Array(n * H) : undefined;
  const order = [...set.lengths.keys()].sort((a, b) => set.lengths[a]! - set.lengths[b]!);
  const bs = opts.batchSize ?? 64;
  for (let i = 0; i < order.length; i += bs) {
    const idx = order.slice(i, i + bs);
    const batch = makeTensorBatch(set, idx, opts.padId, opts.problem);
    const out = tidy(() => {
      const o = teacher.forward(batch.inputs);
      const first = opts.withCls ? tf.slice(o.lastHiddenState, [0, 0, 0], [idx.length, 1, H]).reshape([idx.length, H]) : undefined;
      return { logits: o.logits!, cls: first };
    });
    const z = (await out.logits.data()) as Float32Array;
    const h = out.cls ? ((await out.cls.data()) as Float32Array) : undefined;
    idx.forEach((ex, r) => {
      logits.set(z.subarray(r * L, (r + 1) * L), ex * L);
      if (h && cls) cls.set(h.subarray(r * H, (r + 1) * H), ex * H);
    });
    tf.dispose([out.logits, ...(out.cls ? [out.cls] : [])]);
    disposeBatch(batch);
  }
  const bytes = (logits.length + (cls?.length ?? 0)) * 4;
  let written: string | undefined;
  if (bytes <= opts.maxMiB * 2 ** 20) {
    try {
      fs.mkdirSync(opts.cacheDir, { recursive: true });
      writeSafetensors(
        file,
        [{ name: 'logits', dtype: 'F32', shape: [n, L], data: logits }, ...(cls ? [{ name: 'cls', dtype: 'F32' as const, shape: [n, H], data: cls }] : [])],
        { key: opts.key, producer: 'peft-studio' },
      );
      written = file;
    } catch {
      // A cache that cannot be written (read-only runs folder, full disk) only costs a teacher pass next time.
    }
  }
  return { logits, numLabels: L, cls, hidden: H, source: 'computed', file: written };
}

function readValid(file: string, key: string, n: number, L: number, H: number): { logits: Float32Array; cls?: Float32Array } | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    const { tensors, metadata } = readSafetensors(file);
    if (metadata.key !== key) return undefined;
    const logits = tensors.get('logits');
    if (!logits || logits.shape.join() !== `${n},${L}` || !(logits.data instanceof Float32Array)) return undefined;
    const cls = tensors.get('cls');
    if (H && (!cls || cls.shape.join() !== `${n},${H}` || !(cls.data instanceof Float32Array))) return undefined;
    for (const a of [logits.data, ...(H ? [cls!.data] : [])]) for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return undefined;
    return { logits: logits.data, cls: H ? (cls!.data as Float32Array) : undefined };
  } catch {
    return undefined; // corrupt: rebuilt by the caller
  }
}
