/**
 * The shapes a dataset takes between the user's file and the trainer. Kept apart from the loader so the
 * trainer, the metrics and the extension can name them without pulling in file parsing.
 */

/** A column named by its header (or JSON key, or Parquet field), or by its 0-based position. */
export type ColumnRef = string | number;

export type Task = 'classification' | 'regression' | 'multi_label';

export type DatasetFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet';

/** A classification id, a regression target, or a multi-hot vector of length numLabels (multi_label). */
export type Label = number | number[];

/** Which columns hold what, as resolved for a loaded file (names where the file has them, else indices). */
export interface ColumnMap {
  text: ColumnRef;
  textPair?: ColumnRef;
  label?: ColumnRef;
}

export interface DatasetOptions {
  /**
   * Columns to use; any left out are detected from common names (see columns.ts). `null` says "this file
   * has no such column, do not look for one": `textPair: null` for a single-sentence task whose file
   * happens to have a `sentence2`, `label: null` for a prediction file.
   */
  columns?: { text?: ColumnRef; textPair?: ColumnRef | null; label?: ColumnRef | null };
  /** Overrides the format the file extension implies. */
  format?: DatasetFormat;
  /** 'fail' (default): any bad row throws BAD_DATA. 'skip': bad rows are left out and listed in `badRows`. */
  onBadRow?: 'fail' | 'skip';
  /** The model's label2id. String labels must be among its keys; its ids become the label ids. */
  labelMap?: Record<string, number>;
  /** Defaults: 'regression' when numLabels is 1, else inferred from the labels (see labels.ts). */
  task?: Task;
  /** The model's number of labels: label ids must fall below it. */
  numLabels?: number;
  /** CSV/TSV only: whether line 1 names the columns. Default true. Without one, columns are indices. */
  hasHeader?: boolean;
  /**
   * Default true: a file without a label column is an error (training, evaluation). false: a prediction
   * file may have no labels; then every example's label is `undefined` and `hasLabels` is false.
   */
  requireLabels?: boolean;
}

export interface Example<L = Label> {
  text: string;
  textPair?: string;
  label: L;
  /** 1-based line in the file where the row starts (CSV rows may span lines); 0-based row index for Parquet. */
  line: number;
}

export interface BadRow {
  file: string;
  /** As Example.line: 1-based line, or 0-based row index for Parquet. */
  line: number;
  reason: string;
}

export interface Dataset<L = Label> {
  file: string;
  format: DatasetFormat;
  examples: Example<L>[];
  /** Rows left out under onBadRow 'skip', in file order, for the caller to show. Empty under 'fail'. */
  badRows: BadRow[];
  /** Label names by id, when the file's labels are names (or a labelMap was given). */
  id2label?: Record<number, string>;
  label2id?: Record<string, number>;
  /** Classification: ids run 0..numLabels-1. Regression: 1. Unlabeled without model info: 0 (unknown). */
  numLabels: number;
  task: Task;
  columns: ColumnMap;
  /** Whether every example has a label: always under requireLabels (the default); see DatasetOptions. */
  hasLabels: boolean;
}
