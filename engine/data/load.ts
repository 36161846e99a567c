/**
 * loadDataset: a user's file → examples the trainer can use, or a clear account of what is wrong with it.
 * Every rejected row is reported with its file and line; under onBadRow 'skip' it is kept in `badRows`
 * for the caller to show, never dropped silently.
 */
import { extname } from 'node:path';
import { PeftStudioError } from '../errors';
import { resolveColumns } from './columns';
import { readCsv, readTsv } from './format-delimited';
import { readJsonl } from './format-jsonl';
import { readParquet } from './format-parquet';
import { isMissing, planLabels } from './labels';
import { decodeUtf8, readBytes } from './read-file';
import { cell, type RawTable } from './table';
import type { BadRow, Dataset, DatasetFormat, DatasetOptions, Example, Label } from './types';

/** How many bad rows a BAD_DATA message lists before "… and N more". */
const SHOWN_BAD_ROWS = 5;

const EXTENSIONS: Record<string, DatasetFormat> = {
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.jsonl': 'jsonl',
  '.json-lines': 'jsonl',
  '.ndjson': 'jsonl',
  '.parquet': 'parquet',
};

/** Training and evaluation files: every example has a label, or loading fails. */
export function loadDataset(file: string, opts?: DatasetOptions & { requireLabels?: true }): Promise<Dataset>;
/** Prediction files: a label column is used when there is one; examples without one have `label: undefined`. */
export function loadDataset(file: string, opts: DatasetOptions & { requireLabels: false }): Promise<Dataset<Label | undefined>>;
export async function loadDataset(file: string, opts: DatasetOptions = {}): Promise<Dataset<Label | undefined>> {
  const format = opts.format ?? formatFromExtension(file);
  const requireLabels = opts.requireLabels ?? true;
  const table = await readTable(file, format, opts.hasHeader ?? true);
  const columns = resolveColumns(file, table, opts.columns, requireLabels);
  const { text: textKey, textPair: pairKey, label: labelKey } = columns.keys;

  // Pass 1: texts, and which rows have a label at all. Labels are parsed in pass 2, once all of them have
  // been seen: the task and the name → id mapping depend on the whole column.
  const badRows: BadRow[] = [...table.badRows];
  const kept: { example: Example<Label | undefined>; raw: unknown }[] = [];
  for (const row of table.rows) {
    const bad = (reason: string) => badRows.push({ file, line: row.line, reason });
    const text = asText(cell(row.cells, textKey));
    if (text === undefined) { bad(`text is not a string (column '${columns.map.text}')`); continue; }
    if (text.trim() === '') { bad(`empty text (column '${columns.map.text}')`); continue; }
    let textPair: string | undefined;
    if (pairKey !== undefined) {
      textPair = asText(cell(row.cells, pairKey));
      if (textPair === undefined) { bad(`text pair is not a string (column '${columns.map.textPair}')`); continue; }
      if (textPair.trim() === '') { bad(`empty text pair (column '${columns.map.textPair}')`); continue; }
    }
    const raw = labelKey === undefined ? undefined : cell(row.cells, labelKey);
    // HF's test splits mark "no label" with -1: in a prediction file that is simply unlabeled.
    const unlabeled = isMissing(raw) || (!requireLabels && (raw === -1 || raw === -1n || raw === '-1'));
    if (unlabeled && requireLabels) { bad(`missing label (column '${columns.map.label}')`); continue; }
    kept.push({ example: { text, ...(textPair !== undefined && { textPair }), label: undefined, line: row.line }, raw: unlabeled ? undefined : raw });
  }

  const present = kept.filter((k) => k.raw !== undefined).map((k) => k.raw);
  const plan = planLabels(file, present, opts);
  const examples: Example<Label | undefined>[] = [];
  for (const { example, raw } of kept) {
    if (raw !== undefined) {
      const parsed = plan.parse(raw);
      if ('reason' in parsed) { badRows.push({ file, line: example.line, reason: parsed.reason }); continue; }
      example.label = parsed.label;
    }
    examples.push(example);
  }

  badRows.sort((a, b) => a.line - b.line);
  if (badRows.length > 0 && (opts.onBadRow ?? 'fail') === 'fail') throw badDataError(file, format, badRows);
  if (examples.length === 0) {
    const why = badRows.length > 0 ? `all ${badRows.length} rows are bad` : 'it has no rows';
    throw new PeftStudioError('BAD_DATA', `${file} has no usable examples: ${why}`, file);
  }
  return {
    file,
    format,
    examples,
    badRows,
    ...(plan.id2label && { id2label: plan.id2label, label2id: plan.label2id }),
    // With no label seen and no model info there is nothing to count: 0 says "unknown".
    numLabels: present.length > 0 || opts.numLabels || opts.labelMap || plan.task === 'regression' ? plan.numLabels : 0,
    task: plan.task,
    columns: columns.map,
    hasLabels: examples.every((e) => e.label !== undefined),
  };
}

export function formatFromExtension(file: string): DatasetFormat {
  const ext = extname(file).toLowerCase();
  const format = EXTENSIONS[ext];
  if (!format) {
    const known = Object.keys(EXTENSIONS).join(' ');
    throw new PeftStudioError('BAD_INPUT', `cannot tell the format of ${file} from '${ext}' (known: ${known}): pass format`, file);
  }
  return format;
}

/** `file:line: reason`, or `file row N: reason` for Parquet, whose rows have no lines. */
export function formatBadRow(bad: BadRow, format: DatasetFormat): string {
  return format === 'parquet' ? `${bad.file} row ${bad.line}: ${bad.reason}` : `${bad.file}:${bad.line}: ${bad.reason}`;
}

function badDataError(file: string, format: DatasetFormat, badRows: BadRow[]): PeftStudioError {
  const shown = badRows.slice(0, SHOWN_BAD_ROWS).map((b) => `  ${formatBadRow(b, format)}`);
  if (badRows.length > SHOWN_BAD_ROWS) shown.push(`  … and ${badRows.length - SHOWN_BAD_ROWS} more`);
  const n = badRows.length === 1 ? '1 bad row' : `${badRows.length} bad rows`;
  return new PeftStudioError(
    'BAD_DATA',
    `${file}: ${n}:\n${shown.join('\n')}\nFix them, or load with onBadRow: 'skip' to leave them out (they are then listed in badRows).`,
    file,
  );
}

async function readTable(file: string, format: DatasetFormat, hasHeader: boolean): Promise<RawTable> {
  if (format === 'parquet') return readParquet(file);
  const decoded = decodeUtf8(await readBytes(file));
  if (format === 'jsonl') return readJsonl(file, decoded);
  return format === 'csv' ? readCsv(file, decoded, hasHeader) : readTsv(file, decoded, hasHeader);
}

/** Strings as they are; numbers (a JSON `"text": 42`) as their digits; anything else is not a text. */
function asText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return undefined;
}
