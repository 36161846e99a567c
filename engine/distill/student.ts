/**
 * A DistilBERT-style student made from the teacher itself: the embeddings, the chosen encoder layers
 * (renumbered 0…K−1) and the pooler / head are copied tensor for tensor, as DistilBERT was initialised from
 * BERT. Written as a plain HF model folder (content-addressed under `<runs_dir>/.students/`), so the run
 * trains, resumes and exports it like any other base model.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeftStudioError } from '../errors';
import { writeModelFolder } from '../train/export';
import type { Teacher } from './teacher';

const LAYER = /^((?:[a-z]+\.)?(?:encoder|transformer)\.layer\.)(\d+)(\..*)$/;

export async function buildStudentFromTeacher(teacher: Teacher, layers: number[], runsDir: string): Promise<{ dir: string; reused: boolean }> {
  const c = teacher.model.config;
  for (const l of layers) {
    if (l >= c.numHiddenLayers) throw new PeftStudioError('BAD_INPUT', `distill: student_layers names layer ${l}, but the teacher has layers 0…${c.numHiddenLayers - 1}`);
  }
  const key = createHash('sha256').update(JSON.stringify({ teacher: teacher.identity, layers })).digest('hex').slice(0, 16);
  const dir = path.join(runsDir, '.students', key);
  if (fs.existsSync(path.join(dir, 'model.safetensors')) && fs.existsSync(path.join(dir, 'config.json'))) return { dir, reused: true };
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const index = new Map(layers.map((src, dst) => [src, dst]));
  const layerKey = c.family === 'distilbert' ? 'n_layers' : 'num_hidden_layers';
  await writeModelFolder(teacher.model, tmp, teacher.tokenizerDir, {
    configPatch: { [layerKey]: layers.length },
    rename: (name) => {
      const m = LAYER.exec(name);
      if (!m) return name;
      const dst = index.get(Number(m[2]));
      return dst === undefined ? undefined : `${m[1]}${dst}${m[3]}`;
    },
  });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return { dir, reused: false };
}
