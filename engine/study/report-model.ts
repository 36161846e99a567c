/**
 * `report.json`: the study report as data, written beside report.md by `writeReport` from the same groups
 * and grids, so the notebook output and the study tab show exactly the report's numbers (nothing is
 * recomputed on the other side). Types only, no imports: the webviews compile this file too.
 */

export const STUDY_REPORT_FILE = 'report.json';

export interface StudyReportRow {
  /** The group's axis values (every axis but seed). */
  axes: Record<string, string | number | boolean>;
  /** Axis values other than method and seed: rows are sorted and marked within a block. */
  block: string;
  /** The metric's mean and sample std over the group's finished seeds. */
  mean?: number;
  std?: number;
  /** Finished runs with the metric, of `runs`. */
  n: number;
  runs: number;
  trainable?: number;
  trainablePercent?: number;
  stepSeconds?: number;
  peakTensorBytes?: number;
  exportBytes?: number;
  /** The block's best mean (underlined). */
  best?: boolean;
  /** Mean ± std overlaps the best's: a difference within seed noise (≈). */
  withinNoise?: boolean;
}

export interface StudyChartSeries {
  name: string;
  points: Array<{ x: number; y: number; err?: number; label?: string }>;
  line?: boolean;
}

export interface StudyChart {
  /** The SVG file the report wrote for it (metric-vs-params.svg, metric-vs-rows.svg). */
  file: string;
  title: string;
  xLabel: string;
  yLabel: string;
  logX: boolean;
  series: StudyChartSeries[];
}

export interface StudyGrid {
  title: string;
  rows: string[];
  columns: string[];
  /** values[row][column]; null: no cell there. */
  values: Array<Array<number | null>>;
  measure: string;
}

export interface StudyReportModel {
  v: 1;
  name: string;
  metric: string;
  /** Every axis key, in the study's order. */
  axes: string[];
  /** Runs by state (finished, failed, pending, …). */
  counts: Record<string, number>;
  total: number;
  rows: StudyReportRow[];
  charts: StudyChart[];
  /** The what-moved grids, one per method, shown side by side. */
  grids: StudyGrid[];
  /** Runs that did not finish, with why. */
  notFinished: Array<{ id: string; status: string; reason?: string }>;
}
