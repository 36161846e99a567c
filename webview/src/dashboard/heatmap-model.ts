/**
 * What-moved (`change`) events → the heatmap's grid (rows × columns), DOM-free so it is unit-tested in Node.
 * Method-neutral: rows and columns come from `started.heatmap` (embeddings, layer.0 … layer.L-1, pooler,
 * classifier × the method's columns: BitFit's bias kinds, LoRA's target modules, …), a cell's colour is its
 * `value` in the event's `measure`, or its `relative` change where cells have one. Older runs' `biasChange`
 * events arrive already converted (protocol/webview.ts applyEvent).
 *
 * A cell whose kind has no column of its own goes under the column it resembles most (documented in
 * webview/README.md); for BitFit these are the three biases outside the encoder layers:
 *   embeddings.LayerNorm → output.LayerNorm   (the LayerNorm that ends a block; any embeddings kind)
 *   pooler               → output             (a dense layer's output bias)
 *   head                 → output             (classifier.bias; DistilBERT's pre_classifier.bias, a dense
 *                                              layer before it, → intermediate so the two do not collide)
 * Should two cells still land in one grid cell, it keeps both, shows the larger value, and lists both.
 */
import { BITFIT_MEASURE, type ChangeCell, type ChangeEvent, type StartedEvent } from '../../../engine/protocol/events';

/** `value`: the event's own measure; `relative`: ‖Δ‖ / ‖start‖ (offered where it differs from `value`). */
export type HeatMode = 'value' | 'relative';

export interface HeatCell {
  row: string;
  kind: string;
  /** null: nothing trained here at this step, or (relative mode) a zero start, where a relative change is undefined. */
  value: number | null;
  /** The event's cells behind this grid cell (usually one). */
  cells: ChangeCell[];
}

export interface HeatGrid {
  rows: string[];
  kinds: string[];
  /** cells[r][k], one per row × kind (`cells` empty where the model has no such place or it is frozen). */
  cells: HeatCell[][];
  /** Step of the change event shown; undefined before the first one. */
  step: number | undefined;
  /** Largest value in this grid (0 when empty). */
  max: number;
}

export interface HeatLayout {
  rows: string[];
  kinds: string[];
  /** What a cell's value is (`mean |Δb|`, `‖ΔW‖F / ‖W‖F`); runs from before `measure` existed are BitFit's. */
  measure: string;
}

const FALLBACK_KINDS = ['query', 'key', 'value', 'attention.output', 'attention.LayerNorm', 'intermediate', 'output', 'output.LayerNorm'];

/** The column a cell goes in (see the mapping above). */
export function columnOf(cell: Pick<ChangeCell, 'kind' | 'name'>, kinds: readonly string[]): string {
  if (kinds.includes(cell.kind)) return cell.kind;
  const mapped = cell.kind.startsWith('embeddings')
    ? 'output.LayerNorm'
    : cell.kind === 'head' && /(^|\.)pre_classifier(\.|$)/.test(cell.name)
      ? 'intermediate'
      : 'output'; // pooler, head, and any kind a newer engine may add
  return kinds.includes(mapped) ? mapped : kinds[kinds.length - 1]!;
}

/**
 * Rows, columns and measure from the started event; rows and columns the latest event names but the layout
 * lacks are appended, never dropped (a column only when no documented mapping places the cell).
 */
export function layoutOf(started: { heatmap: Pick<StartedEvent['heatmap'], 'rows' | 'kinds'> & { measure?: string } } | undefined, events: readonly ChangeEvent[]): HeatLayout {
  const rows = [...(started?.heatmap.rows ?? [])];
  const kinds = started?.heatmap.kinds.length ? [...started.heatmap.kinds] : [];
  const latest = events[events.length - 1];
  for (const c of latest?.cells ?? []) if (!rows.includes(c.row)) rows.push(c.row);
  if (!kinds.length) {
    // No declared columns (a run whose started event is missing): the cells' own kinds, else BitFit's.
    for (const c of latest?.cells ?? []) if (!kinds.includes(c.kind)) kinds.push(c.kind);
    if (!kinds.length || (latest?.measure ?? BITFIT_MEASURE) === BITFIT_MEASURE) kinds.splice(0, kinds.length, ...FALLBACK_KINDS);
  }
  return { rows, kinds, measure: latest?.measure ?? started?.heatmap.measure ?? BITFIT_MEASURE };
}

export function valueOf(cell: ChangeCell, mode: HeatMode): number | null {
  const v = mode === 'value' ? cell.value : cell.relative;
  return v !== null && v !== undefined && Number.isFinite(v) ? v : null;
}

/** Whether the relative mode shows anything `value` does not: some cell's relative change differs from its value. */
export function hasRelativeMode(events: readonly ChangeEvent[]): boolean {
  const latest = events[events.length - 1];
  return !!latest?.cells.some((c) => c.relative !== null && c.relative !== undefined && c.relative !== c.value);
}

export function buildGrid(layout: Pick<HeatLayout, 'rows' | 'kinds'>, event: ChangeEvent | undefined, mode: HeatMode): HeatGrid {
  const cells = layout.rows.map((row) => layout.kinds.map((kind): HeatCell => ({ row, kind, value: null, cells: [] })));
  let max = 0;
  for (const b of event?.cells ?? []) {
    const r = layout.rows.indexOf(b.row);
    const k = layout.kinds.indexOf(columnOf(b, layout.kinds));
    if (r < 0 || k < 0) continue;
    const cell = cells[r]![k]!;
    cell.cells.push(b);
    const v = valueOf(b, mode);
    if (v !== null && (cell.value === null || v > cell.value)) cell.value = v;
  }
  for (const row of cells) for (const c of row) if (c.value !== null && c.value > max) max = c.value;
  return { rows: layout.rows, kinds: layout.kinds, cells, step: event?.step, max };
}

/**
 * Colour-scale maximum over every event, so replaying with the scrubber shows the change growing against one
 * fixed scale instead of each frame being stretched to full colour.
 */
export function scaleMax(events: readonly ChangeEvent[], mode: HeatMode): number {
  let max = 0;
  for (const e of events)
    for (const c of e.cells) {
      const v = valueOf(c, mode);
      if (v !== null && v > max) max = v;
    }
  return max;
}

/** 0…1 colour intensity; 0 when the scale is empty. */
export function intensity(value: number | null, max: number): number {
  if (value === null || !(max > 0)) return 0;
  return Math.min(1, Math.max(0, value / max));
}

/** The cell's most-moved units across its cells, largest |delta| first. */
export function topUnits(cell: HeatCell, limit = 10): Array<{ name: string; index: number; delta: number }> {
  return cell.cells
    .flatMap((b) => b.top.map((t) => ({ name: b.name, index: t.index, delta: t.delta })))
    .sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta))
    .slice(0, limit);
}

/** Every `details` list of the cell's cells (LoRA: singular values of ΔW, output/input units), named by tensor when several share the cell. */
export function detailLists(cell: HeatCell): Array<{ title: string; items: Array<{ label: string; value: number }> }> {
  const several = cell.cells.length > 1;
  return cell.cells.flatMap((c) => (c.details ?? []).map((d) => ({ title: several ? `${shortName(c.name)}: ${d.title}` : d.title, items: d.items })));
}

export function shortName(name: string): string {
  return name.split('.').slice(-3).join('.');
}

export function nonZeroCells(grid: HeatGrid): number {
  let n = 0;
  for (const row of grid.cells) for (const c of row) if (c.value !== null && c.value > 0) n++;
  return n;
}

/** Index into `events` of the frame shown: `frame` (clamped) when scrubbing, the latest when following. */
export function frameIndex(events: readonly unknown[], frame: number | null): number {
  if (events.length === 0) return -1;
  return frame === null ? events.length - 1 : Math.min(events.length - 1, Math.max(0, frame));
}
