/**
 * What each format reader hands the loader: rows of cells plus the rows it could not even split into
 * cells. Keeping the readers down to this one shape lets column detection, label parsing and bad-row
 * reporting be written once for CSV, TSV, JSONL and Parquet alike.
 */
import type { BadRow } from './types';

/** Delimited rows are cell arrays, addressed by index; JSONL and Parquet rows are objects, by name. */
export type Cells = readonly unknown[] | Readonly<Record<string, unknown>>;

export interface RawRow {
  /** As Example.line. */
  line: number;
  cells: Cells;
}

export interface RawTable {
  /** Header names (CSV/TSV), keys in order of first appearance (JSONL), fields (Parquet); absent without a header. */
  columnNames?: string[];
  /** How many cells a headerless delimited file's rows have (from its first row). */
  columnCount: number;
  /** 'index': rows are arrays and a column's key is its position. 'name': rows are objects. */
  keyedBy: 'index' | 'name';
  rows: RawRow[];
  /** Rows the reader rejected: invalid UTF-8, wrong column count, invalid JSON. */
  badRows: BadRow[];
}

/** A resolved column: its position for 'index' tables, its name for 'name' tables. */
export type ColumnKey = number | string;

export function cell(cells: Cells, key: ColumnKey): unknown {
  return (cells as Record<string | number, unknown>)[key];
}
