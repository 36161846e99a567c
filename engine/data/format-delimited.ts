/**
 * CSV and TSV. They are parsed differently on purpose: TSV is split on tabs with no quote handling at all,
 * because GLUE's TSVs (MRPC, …) hold unbalanced `"` characters that any quote-aware parser would treat as
 * the start of a field running over many lines. CSV, in contrast, needs RFC 4180 quoting (commas and
 * newlines inside quoted fields), which csv-parse does.
 */
import { parse } from 'csv-parse/sync';
import { PeftStudioError } from '../errors';
import type { DecodedText } from './read-file';
import type { RawRow, RawTable } from './table';
import type { BadRow } from './types';

export function readTsv(file: string, decoded: DecodedText, hasHeader: boolean): RawTable {
  const records: { line: number; cells: string[] }[] = [];
  const lines = decoded.text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let text = lines[i];
    if (text.endsWith('\r')) text = text.slice(0, -1); // files saved on Windows
    if (text === '') continue; // the final newline, or blank separator lines: not rows at all
    records.push({ line: i + 1, cells: text.split('\t') });
  }
  return toTable(file, records, decoded.badLines, hasHeader, (r) => [r.line, r.line]);
}

export function readCsv(file: string, decoded: DecodedText, hasHeader: boolean): RawTable {
  type Parsed = { record: string[]; raw: string; info: { lines: number } };
  let lastEnd = 0;
  let parsed: Parsed[];
  try {
    parsed = parse(decoded.text, {
      info: true,
      raw: true,
      relax_column_count: true, // counted below, so a bad row is reported rather than aborting the parse
      relax_quotes: true, // a stray `"` inside an unquoted field is text, as Python's csv module reads it
      skip_empty_lines: true,
      on_record: (rec, context) => {
        lastEnd = context.lines; // where the last good record ended, for the error below
        return rec;
      },
    }) as unknown as Parsed[]; // the typings do not model `info` + `raw` records
  } catch (err) {
    // Only an unclosed quote gets here with the relaxed options: it swallows the rest of the file, so
    // no row after it can be trusted and there is nothing to skip to. It opened on the first non-blank
    // line after the last good record.
    const code = (err as { code?: string }).code;
    const lines = decoded.text.split('\n');
    let start = lastEnd + 1;
    while (start < lines.length && lines[start - 1].trim() === '') start++;
    const at = `${file}:${start}`;
    const what = code === 'CSV_QUOTE_NOT_CLOSED' ? 'a quoted field is never closed' : (err as Error).message;
    throw new PeftStudioError('BAD_DATA', `${at}: ${what} (CSV parsing stopped here)`, file);
  }
  const records = parsed.map((p) => {
    // info.lines is the line a record ends on; count the line breaks inside it to find where it starts.
    // raw also holds the blank lines skipped before the record.
    const inner = p.raw.replace(/^(\r?\n)+/, '').replace(/\r?\n$/, '');
    const breaks = inner.split('\n').length - 1;
    return { line: p.info.lines - breaks, end: p.info.lines, cells: p.record };
  });
  return toTable(file, records, decoded.badLines, hasHeader, (r) => [r.line, r.end]);
}

/** Header, column counts and bad UTF-8, common to both delimited formats. */
function toTable<R extends { line: number; cells: string[] }>(
  file: string,
  records: R[],
  badLines: Set<number>,
  hasHeader: boolean,
  span: (r: R) => [number, number],
): RawTable {
  const hasBadBytes = (r: R) => {
    if (badLines.size === 0) return false;
    const [from, to] = span(r);
    for (let l = from; l <= to; l++) if (badLines.has(l)) return true;
    return false;
  };
  let columnNames: string[] | undefined;
  let body = records;
  if (hasHeader) {
    const head = records[0];
    if (!head) throw new PeftStudioError('BAD_DATA', `${file} is empty: expected a header line`, file);
    if (hasBadBytes(head)) throw new PeftStudioError('BAD_DATA', `${file}:${head.line}: invalid UTF-8 in the header`, file);
    columnNames = head.cells.map((c) => c.trim());
    body = records.slice(1);
  }
  const columnCount = columnNames?.length ?? body[0]?.cells.length ?? 0;
  const rows: RawRow[] = [];
  const badRows: BadRow[] = [];
  for (const r of body) {
    if (hasBadBytes(r)) badRows.push({ file, line: r.line, reason: 'invalid UTF-8' });
    else if (r.cells.length !== columnCount)
      badRows.push({ file, line: r.line, reason: `expected ${columnCount} columns, found ${r.cells.length}` });
    else rows.push({ line: r.line, cells: r.cells });
  }
  return { columnNames, columnCount, keyedBy: 'index', rows, badRows };
}
