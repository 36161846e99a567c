/**
 * Batch prediction: a CSV/TSV/JSONL/Parquet file in, `<name>.predictions.csv` out, beside it. The output
 * keeps every input column (so it lines up with the user's own data) and adds the predicted label and one
 * probability column per class (regression: the predicted value). It is written with an atomic rename, so a
 * cancelled or failed run leaves no half-written file, and it never replaces the input.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeftStudioError } from '../errors';
import { resolveColumns } from '../data/columns';
import { readCsv, readTsv } from '../data/format-delimited';
import { readJsonl } from '../data/format-jsonl';
import { readParquet } from '../data/format-parquet';
import { formatBadRow, formatFromExtension } from '../data/load';
import { decodeUtf8, readBytes } from '../data/read-file';
import { cell, type RawTable } from '../data/table';
import type { BadRow, ColumnRef, DatasetFormat } from '../data/types';
import { writeFileAtomicAsync } from '../io/atomic';
import { resolveProblemType } from '../model/config';
import { predict, type ModelHandle, type PredictInput, type Prediction } from './model-handle';
import { predictionsPath } from './predictions-path';

export interface PredictFileOptions {
  /** Columns as the run named them; a name the file lacks falls back to detection (see data/columns.ts). */
  columns?: { text?: ColumnRef; textPair?: ColumnRef | null };
  /** 'fail' (default): any bad row stops before anything is written. 'skip': bad rows are left out and listed. */
  onBadRow?: 'fail' | 'skip';
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  /** Checked between batches; true stops without writing. */
  cancelled?: () => boolean;
}

export interface PredictFileResult {
  out: string;
  rows: number;
  skipped: BadRow[];
  columns: string[];
  seconds: number;
  cancelled: boolean;
}

export { predictionsPath };

const SHOWN_BAD_ROWS = 5;

export async function predictFile(h: ModelHandle, input: string, out: string = predictionsPath(input), opts: PredictFileOptions = {}): Promise<PredictFileResult> {
  const t0 = performance.now();
  refuseOverwritingInput(input, out);
  const format = formatFromExtension(input);
  const table = await readTable(input, format);
  const cols = pickColumns(input, table, opts.columns);

  const badRows: BadRow[] = [...table.badRows];
  const rows: { cells: RawTable['rows'][number]['cells']; input: PredictInput }[] = [];
  for (const row of table.rows) {
    const text = asText(cell(row.cells, cols.keys.text));
    const pair = cols.keys.textPair === undefined ? undefined : asText(cell(row.cells, cols.keys.textPair));
    if (!text?.trim()) badRows.push({ file: input, line: row.line, reason: `empty or non-text value in column '${cols.map.text}'` });
    else if (cols.keys.textPair !== undefined && !pair?.trim()) badRows.push({ file: input, line: row.line, reason: `empty or non-text value in column '${cols.map.textPair}'` });
    else rows.push({ cells: row.cells, input: { text, textPair: pair } });
  }
  badRows.sort((a, b) => a.line - b.line);
  if (badRows.length && (opts.onBadRow ?? 'fail') === 'fail') throw badRowsError(input, format, badRows);
  if (!rows.length) throw new PeftStudioError('BAD_DATA', `${input} has no rows to predict`, input);

  const batchSize = opts.batchSize ?? 32;
  const predictions: Prediction[] = [];
  opts.onProgress?.(0, rows.length);
  for (let i = 0; i < rows.length; i += batchSize) {
    // TF.js reads results back through promises that settle without returning to the event loop: yield
    // to it, so a cancel (or a sentence typed meanwhile) arriving over IPC is heard between batches.
    await new Promise((resolve) => setImmediate(resolve));
    if (opts.cancelled?.()) return { out, rows: predictions.length, skipped: badRows, columns: [], seconds: (performance.now() - t0) / 1000, cancelled: true };
    predictions.push(...(await predict(h, rows.slice(i, i + batchSize).map((r) => r.input), { batchSize })));
    opts.onProgress?.(predictions.length, rows.length);
  }
  if (opts.cancelled?.()) return { out, rows: 0, skipped: badRows, columns: [], seconds: (performance.now() - t0) / 1000, cancelled: true };

  const inputNames = table.columnNames ?? Array.from({ length: table.columnCount }, (_, i) => `column_${i}`);
  const added = outputColumns(h, inputNames);
  const lines = [[...inputNames, ...added.names].map(csvField).join(',')];
  rows.forEach((r, i) => {
    const inputCells = inputNames.map((name, j) => cellText(cell(r.cells, table.keyedBy === 'index' ? j : name)));
    lines.push([...inputCells, ...added.values(predictions[i]!)].map(csvField).join(','));
  });
  await writeFileAtomicAsync(out, lines.join('\n') + '\n');
  return { out, rows: rows.length, skipped: badRows, columns: [...inputNames, ...added.names], seconds: (performance.now() - t0) / 1000, cancelled: false };
}

/** Same path, or the same file through a link: refused before any work is done. */
function refuseOverwritingInput(input: string, out: string): void {
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  if (real(input) === real(out)) {
    throw new PeftStudioError('BAD_INPUT', `refusing to write predictions over the input file ${input}: choose another output`, input);
  }
}

async function readTable(file: string, format: DatasetFormat): Promise<RawTable> {
  if (format === 'parquet') return readParquet(file);
  const decoded = decodeUtf8(await readBytes(file));
  if (format === 'jsonl') return readJsonl(file, decoded);
  return format === 'csv' ? readCsv(file, decoded, true) : readTsv(file, decoded, true);
}

function pickColumns(file: string, table: RawTable, given: PredictFileOptions['columns'] = {}) {
  try {
    return resolveColumns(file, table, { ...given, label: null }, false);
  } catch (e) {
    // The run's own column names may not exist in a file made for prediction: detect instead.
    if (given.text === undefined && given.textPair == null) throw e;
    return resolveColumns(file, table, { label: null }, false);
  }
}

/** The columns appended to each row: the predicted label (or value) and a probability per class. */
function outputColumns(h: ModelHandle, inputNames: string[]): { names: string[]; values: (p: Prediction) => Array<string | number> } {
  const taken = new Set(inputNames);
  const unique = (name: string) => {
    let n = name;
    for (let k = 2; taken.has(n); k++) n = `${name}_${k}`;
    taken.add(n);
    return n;
  };
  const c = h.model.config;
  const problem = resolveProblemType(c);
  if (problem === 'regression') return { names: [unique('predicted_value')], values: (p) => [p.score!] };
  const labels = Array.from({ length: c.numLabels }, (_, i) => c.id2label[i] ?? String(i));
  const names = [unique(problem === 'multi_label_classification' ? 'predicted_labels' : 'predicted_label'), ...labels.map((l) => unique(`p_${l}`))];
  // Multi-label: every label whose sigmoid passes 0.5, as HF's text-classification pipeline thresholds them.
  const predicted = (p: Prediction) => (problem === 'multi_label_classification' ? labels.filter((_, i) => p.probabilities![i]! >= 0.5).join('|') : p.label!);
  return { names, values: (p) => [predicted(p), ...p.probabilities!] };
}

function asText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return undefined;
}

/** A JSONL cell may hold anything JSON does; the CSV gets its JSON text (strings as they are). */
function cellText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
}

/** RFC 4180: quoted when it holds a comma, a quote or a line break; numbers at full precision (round-trip). */
export function csvField(v: string | number): string {
  const s = typeof v === 'number' ? String(v) : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function badRowsError(file: string, format: DatasetFormat, badRows: BadRow[]): PeftStudioError {
  const shown = badRows.slice(0, SHOWN_BAD_ROWS).map((b) => `  ${formatBadRow(b, format)}`);
  if (badRows.length > SHOWN_BAD_ROWS) shown.push(`  … and ${badRows.length - SHOWN_BAD_ROWS} more`);
  const n = badRows.length === 1 ? '1 bad row' : `${badRows.length} bad rows`;
  return new PeftStudioError('BAD_DATA', `${file}: ${n}:\n${shown.join('\n')}\nFix them, or skip them (they are then left out of the predictions).`, file);
}
