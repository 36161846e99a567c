/**
 * Datasets in every format (TSV, CSV, JSONL, Parquet): generated rows with hostile labels and texts mixed
 * in, then byte-level damage, loaded under both bad-row policies. A dataset that loads must hold usable
 * examples whose labels fit the task it reports.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadDataset } from '../../../engine/data';
import type { DatasetOptions } from '../../../engine/data/types';
import { MAX_INFERRED_CLASS_ID } from '../../../engine/data/labels';
import { writeParquet } from '../../../engine/data/testing/tiny-parquet';
import { check, type FuzzKind, type Rand } from '../harness';
import { hostileValue, mutateBytes } from '../mutate';

const WORDS = ['good', 'bad', 'film', 'the', 'plot', 'é', 'très', '你好', '"quoted"', 'a,b', 'tab\there', 'line\nbreak', '', ' '];
const ODD_LABELS = ['0.5', '1e3', '100000000', '1e308', '-1', 'maybe', 'NaN', 'Infinity', 'true', '', ' ', '2', '7', '1.0', '0x1', '١', 'pos'];

type Scheme = 'binary' | 'multiclass' | 'names' | 'regression' | 'multilabel';

function label(rand: Rand, scheme: Scheme, i: number): unknown {
  switch (scheme) {
    case 'binary':
      return i % 2;
    case 'multiclass':
      return i % 4;
    case 'names':
      return ['neg', 'neutral', 'pos'][i % 3];
    case 'regression':
      return Math.round(rand.float() * 500) / 100;
    default:
      return [i % 3, (i + 1) % 3].slice(0, 1 + (i % 2));
  }
}

function text(rand: Rand): string {
  return Array.from({ length: 1 + rand.int(5) }, () => rand.pick(WORDS)).join(' ');
}

function rows(rand: Rand): { scheme: Scheme; rows: Array<{ text: unknown; label: unknown }> } {
  const scheme = rand.pick(['binary', 'binary', 'multiclass', 'names', 'regression', 'multilabel'] as const);
  const n = 1 + rand.int(rand.chance(0.5) ? 12 : 80);
  const out = Array.from({ length: n }, (_, i) => ({ text: text(rand) as unknown, label: label(rand, scheme, i) }));
  for (let k = rand.int(4); k > 0; k--) {
    const r = out[rand.int(n)]!;
    if (rand.chance(0.7)) r.label = rand.chance(0.6) ? rand.pick(ODD_LABELS) : hostileValue(rand);
    else r.text = rand.chance(0.5) ? hostileValue(rand) : '';
  }
  return { scheme, rows: out };
}

const cellText = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

function writeFile(file: string, format: string, data: ReturnType<typeof rows>, rand: Rand): void {
  if (format === 'parquet') {
    const labels = data.rows.map((r) => r.label);
    const numeric = labels.every((l) => l === null || (typeof l === 'number' && Number.isFinite(l)));
    const ints = numeric && labels.every((l) => l === null || Number.isSafeInteger(l));
    writeParquet(file, [
      { name: 'sentence', type: 'string', values: data.rows.map((r) => (typeof r.text === 'string' ? r.text : null)) },
      ints ? { name: 'label', type: 'int64', values: labels as (number | null)[] } : numeric ? { name: 'label', type: 'double', values: labels as (number | null)[] } : { name: 'label', type: 'string', values: labels.map((l) => (l === null ? null : cellText(l))) },
    ]);
    if (rand.chance(0.3)) fs.writeFileSync(file, mutateBytes(fs.readFileSync(file), rand));
    return;
  }
  let body: string;
  if (format === 'jsonl') {
    body = data.rows.map((r) => (rand.chance(0.03) ? rand.pick(['{', '[]', '"x"', 'null', '{"text": 1e999}', '']) : JSON.stringify({ sentence: r.text, label: r.label }) ?? '')).join('\n');
  } else if (format === 'csv') {
    const q = (s: string) => (rand.chance(0.9) ? `"${s.replace(/"/g, '""')}"` : s);
    body = `sentence,label\n${data.rows.map((r) => `${q(cellText(r.text))},${q(cellText(r.label))}`).join('\n')}`;
  } else {
    body = `sentence\tlabel\n${data.rows.map((r) => `${cellText(r.text).replace(/[\t\n]/g, ' ')}\t${cellText(r.label).replace(/[\t\n]/g, ' ')}`).join('\n')}`;
  }
  let bytes: Uint8Array = Buffer.from(body + (rand.chance(0.8) ? '\n' : ''), 'utf8');
  if (rand.chance(0.1)) bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
  if (rand.chance(0.25)) bytes = mutateBytes(bytes, rand);
  fs.writeFileSync(file, bytes);
}

let root = '';

export function datasetKind(format: 'tsv' | 'csv' | 'jsonl' | 'parquet', cases: number): FuzzKind {
  return {
    name: `dataset .${format}`,
    cases,
    setup() {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-fuzz-data-'));
    },
    teardown() {
      fs.rmSync(root, { recursive: true, force: true });
    },
    make(rand, i) {
      const file = path.join(root, `d${i}.${format}`);
      const data = rows(rand);
      writeFile(file, format, data, rand);
      const opts: DatasetOptions = { onBadRow: rand.chance(0.5) ? 'skip' : 'fail' };
      const model = rand.int(6);
      if (model === 1) opts.numLabels = 2;
      if (model === 2) opts.labelMap = { neg: 0, pos: 1 };
      if (model === 3) opts.task = rand.pick(['classification', 'regression', 'multi_label'] as const);
      if (model === 4) opts.requireLabels = false;
      return {
        label: `${data.scheme}, ${data.rows.length} rows, ${JSON.stringify(opts)}`,
        file,
        async run() {
          const ds = await loadDataset(file, opts as DatasetOptions & { requireLabels: false });
          check(ds.examples.length > 0, 'no examples');
          check(ds.examples.every((e) => typeof e.text === 'string' && e.text.trim() !== '' && (e.textPair === undefined || (typeof e.textPair === 'string' && e.textPair.trim() !== ''))), 'an empty or non-string text');
          check(Number.isInteger(ds.numLabels) && ds.numLabels >= 0, `numLabels ${ds.numLabels}`);
          if (!opts.numLabels && !opts.labelMap) check(ds.numLabels <= MAX_INFERRED_CLASS_ID + 1, `numLabels ${ds.numLabels} inferred from the data`);
          for (const e of ds.examples) {
            const l = e.label;
            if (l === undefined) {
              check(opts.requireLabels === false, 'an unlabeled example in a training file');
              continue;
            }
            if (ds.task === 'regression') check(typeof l === 'number' && Number.isFinite(l), `regression label ${l}`);
            else if (ds.task === 'classification') check(typeof l === 'number' && Number.isInteger(l) && l >= 0 && l < ds.numLabels, `class ${l} of ${ds.numLabels}`);
            else check(Array.isArray(l) && l.length === ds.numLabels && l.every((x) => x === 0 || x === 1), `multi-hot ${JSON.stringify(l)?.slice(0, 40)}`);
          }
          if (ds.id2label) check(Object.keys(ds.id2label).length <= Math.max(ds.numLabels, 1), 'more label names than labels');
          check(opts.onBadRow === 'skip' || ds.badRows.length === 0, 'bad rows kept under fail');
        },
      };
    },
  };
}
