/**
 * Small, learnable training data and tiny models for the trainer's integration tests. Sentences are built
 * from the generated BERT vocab (make-model.ts) so every word is one known token; the label says whether the
 * sentence holds a positive word ('good', 'great'), which a bias-only fine-tune can pick up quickly.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeModelDir, rng, type GeneratedModel, type MakeModelOptions } from './make-model';
import { decodeEvent, type RunEvent } from '../../engine/protocol/events';
import { serializeSafetensors, type TensorToWrite } from '../../engine/io/safetensors';

const FILLER = ['the', 'a', 'is', 'movie', 'film', 'very', 'it', 'and', '.', 'not'];
const POSITIVE = ['good', 'great'];
const NEGATIVE = ['bad'];

export interface Row {
  text: string;
  label: number;
}

/**
 * `n` sentences of 1 + (0…maxFiller) words, alternating negative / positive, seeded; lengths vary so length
 * bucketing has work to do. Short sentences keep the one word that decides the label a large part of what
 * the [CLS] position sees, so a random tiny model learns the task from its biases within a few dozen steps.
 */
export function makeRows(n: number, seed = 7, maxFiller = 3): Row[] {
  const rand = rng(seed);
  const pick = <T>(a: T[]): T => a[Math.floor(rand() * a.length)]!;
  const rows: Row[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const words = Array.from({ length: Math.floor(rand() * (maxFiller + 1)) }, () => pick(FILLER));
    words.splice(Math.floor(rand() * (words.length + 1)), 0, pick(label ? POSITIVE : NEGATIVE));
    rows.push({ text: words.join(' '), label });
  }
  return rows;
}

const tempDirs: string[] = [];

export function tempDir(prefix = 'peft-train-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** Writes `sentence<TAB>label` with a header. `labels` renames the ids (e.g. ['neg', 'pos']). */
export function writeTsv(file: string, rows: Row[], labels?: string[]): string {
  const body = rows.map((r) => `${r.text}\t${labels ? labels[r.label] : r.label}`).join('\n');
  fs.writeFileSync(file, `sentence\tlabel\n${body}\n`);
  return file;
}

export function writeCsv(file: string, rows: Row[]): string {
  fs.writeFileSync(file, `text,label\n${rows.map((r) => `"${r.text}",${r.label}`).join('\n')}\n`);
  return file;
}

export function writeJsonl(file: string, rows: Row[]): string {
  fs.writeFileSync(file, rows.map((r) => JSON.stringify({ text: r.text, label: r.label })).join('\n') + '\n');
  return file;
}

/**
 * A generated 2-layer, hidden-32 model. `dropout: false` zeroes every dropout probability in config.json.
 * `weightScale` (default 2) multiplies the encoder's and heads' weight matrices: make-model's std 0.1 leaves
 * a random 32-wide encoder so close to the identity that [CLS] barely sees the other tokens, and the toy
 * task would not be learnable in a test's few dozen steps. `gen.tensors` holds what the file holds.
 */
export function makeTinyModel(opts: Partial<MakeModelOptions> & { dropout?: boolean; weightScale?: number } = {}): GeneratedModel {
  const { dropout = true, weightScale = 2, ...rest } = opts;
  const gen = makeModelDir({ family: 'bert', layers: 2, hidden: 32, heads: 4, intermediate: 64, ...rest });
  if (weightScale !== 1) {
    const list: TensorToWrite[] = [];
    for (const [name, t] of gen.tensors) {
      if (t.shape.length === 2 && !name.includes('embeddings.')) t.data = t.data.map((x) => x * weightScale);
      list.push({ name, dtype: 'F32', shape: t.shape, data: t.data });
    }
    fs.writeFileSync(path.join(gen.dir, 'model.safetensors'), serializeSafetensors(list, { format: 'pt' }));
  }
  if (!dropout) {
    const file = path.join(gen.dir, 'config.json');
    const c = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    for (const k of ['hidden_dropout_prob', 'attention_probs_dropout_prob', 'dropout', 'attention_dropout', 'seq_classif_dropout']) {
      if (k in c) c[k] = 0;
    }
    if ('classifier_dropout' in c) c.classifier_dropout = 0;
    fs.writeFileSync(file, JSON.stringify(c, null, 2) + '\n');
    gen.config = c;
  }
  return gen;
}

/** The generated BERT vocab as token → id, for tokenizing test sentences without the engine's tokenizer. */
export function readVocab(modelDir: string): Map<string, number> {
  const lines = fs.readFileSync(path.join(modelDir, 'vocab.txt'), 'utf8').split('\n').filter((l) => l !== '');
  return new Map(lines.map((t, i) => [t, i]));
}

/** Every line of a run's events.jsonl, decoded; a line that does not decode fails the caller's assertion. */
export function readEventLines(runDir: string): { events: RunEvent[]; bad: string[] } {
  const lines = fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8').split('\n').filter((l) => l !== '');
  const events: RunEvent[] = [];
  const bad: string[] = [];
  for (const l of lines) {
    const e = decodeEvent(l);
    if (e) events.push(e);
    else bad.push(l);
  }
  return { events, bad };
}

/** The events of one type. (An intersection, not Extract: 'paused' and 'resumed' share one interface.) */
export function ofType<T extends RunEvent['type']>(events: RunEvent[], type: T): (RunEvent & { type: T })[] {
  return events.filter((e) => e.type === type) as (RunEvent & { type: T })[];
}
