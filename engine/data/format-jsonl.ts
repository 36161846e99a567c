/**
 * JSON Lines: one object per line. A line that is not valid JSON, or is JSON but not an object, is a bad
 * row of its own; it does not stop the rest of the file from loading.
 */
import type { DecodedText } from './read-file';
import type { RawRow, RawTable } from './table';
import type { BadRow } from './types';

export function readJsonl(file: string, decoded: DecodedText): RawTable {
  const rows: RawRow[] = [];
  const badRows: BadRow[] = [];
  // Keys in order of first appearance over all rows, so a key missing from the first row (an optional
  // label, say) is still found by column detection.
  const names = new Set<string>();
  const lines = decoded.text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const text = lines[i].trim();
    if (text === '') continue;
    if (decoded.badLines.has(line)) {
      badRows.push({ file, line, reason: 'invalid UTF-8' });
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      badRows.push({ file, line, reason: `invalid JSON: ${(err as Error).message}` });
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      const found = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
      badRows.push({ file, line, reason: `expected a JSON object, found ${found}` });
      continue;
    }
    for (const k of Object.keys(value)) names.add(k);
    rows.push({ line, cells: value as Record<string, unknown> });
  }
  const columnNames = [...names];
  return { columnNames, columnCount: columnNames.length, keyedBy: 'name', rows, badRows };
}
