/**
 * The evaluation split that sits beside a training file in the GLUE or HF datasets layout: GLUE's
 * `train.tsv` next to `dev.tsv`, HF's `train.*` (or `train-00000-of-00001.parquet`) next to `validation.*`,
 * or a `test.*` that has labels (GLUE's and HF's test splits usually have none). A run with no eval file
 * evaluates on it instead of holding out part of the training data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ColumnRef } from './types';
import { resolveColumns } from './columns';
import type { RawTable } from './table';

const FORMATS = /\.(tsv|csv|jsonl|parquet)$/i;
/** Split names in the order they are preferred. */
const SPLITS = ['dev', 'validation', 'valid', 'test'];

export interface EvalBeside {
  file: string;
  split: string;
}

/**
 * The split file beside `trainFile`, or undefined when the training file is not named `train…` or no single
 * labelled split file sits next to it. `labelColumn`: the run's label column when it names one.
 */
export function findEvalBeside(trainFile: string, labelColumn?: ColumnRef): EvalBeside | undefined {
  const dir = path.dirname(trainFile);
  const m = /^train([-_.].*)$/i.exec(path.basename(trainFile));
  if (!m || !FORMATS.test(trainFile)) return undefined;
  const rest = m[1]!; // ".tsv", "-00000-of-00001.parquet"
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => FORMATS.test(n) && fs.statSync(path.join(dir, n)).isFile());
  } catch {
    return undefined;
  }
  for (const split of SPLITS) {
    // The same naming as the training file first (dev.tsv beside train.tsv), else the one file of that split.
    const same = `${split}${rest}`;
    const found = names.find((n) => n.toLowerCase() === same.toLowerCase());
    const candidates = found ? [found] : names.filter((n) => new RegExp(`^${split}[-_.]`, 'i').test(n) && !/[-_](matched|mismatched)\b/i.test(n));
    if (candidates.length !== 1) continue;
    const file = path.join(dir, candidates[0]!);
    if (split === 'test' && !hasLabels(file, labelColumn)) continue;
    return { file, split };
  }
  return undefined;
}

/**
 * Whether a split file carries labels, from its header and first row: a label column (the run's, or one of
 * the usual names) whose first value is not empty or -1 (HF's "no label"). Parquet files are not opened:
 * a test split in Parquet is taken as unlabelled.
 */
function hasLabels(file: string, labelColumn?: ColumnRef): boolean {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.parquet') return false;
  let lines: string[];
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      lines = buf.subarray(0, n).toString('utf8').replace(/^\uFEFF/, '').split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
  if (lines.length < 2) return false;
  let names: string[];
  let first: Record<string, unknown>;
  if (ext === '.jsonl') {
    try {
      first = JSON.parse(lines[0]!) as Record<string, unknown>;
    } catch {
      return false;
    }
    names = Object.keys(first);
  } else {
    const sep = ext === '.tsv' ? '\t' : ',';
    const unquote = (v: string) => v.trim().replace(/^"(.*)"$/, '$1');
    names = lines[0]!.split(sep).map(unquote);
    const values = lines[1]!.split(sep).map(unquote);
    first = Object.fromEntries(names.map((k, i) => [k, values[i]]));
  }
  const table: RawTable = { columnNames: names, columnCount: names.length, keyedBy: 'name', rows: [], badRows: [] };
  try {
    const key = resolveColumns(file, table, { label: labelColumn }, true).keys.label;
    const v = key === undefined ? undefined : first[typeof key === 'number' ? names[key]! : key];
    return v !== undefined && v !== null && String(v).trim() !== '' && String(v).trim() !== '-1';
  } catch {
    return false;
  }
}
