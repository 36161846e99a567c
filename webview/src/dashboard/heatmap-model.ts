/**
 * Bias-change events → the heatmap's grid (rows × kinds), DOM-free so it is unit-tested in Node.
 *
 * Rows and columns come from `started.heatmap` (embeddings, layer.0 … layer.L-1, pooler, classifier ×
 * query … output.LayerNorm). The three biases outside the encoder layers have no column of their own; each
 * goes under the column it resembles most (documented in webview/README.md):
 *   embeddings.LayerNorm → output.LayerNorm   (the LayerNorm that ends a block)
 *   pooler               → output             (a dense layer's output bias)
 *   head                 → output             (classifier.bias; DistilBERT's pre_classifier.bias, a dense
 *                                              layer before it, → intermediate so the two do not collide)
 * Should two biases still land in one cell, the cell keeps both, shows the larger value, and lists both.
 */
import type { BiasCell, BiasChangeEvent, StartedEvent } from '../../../engine/protocol/events';

export type HeatMode = 'meanAbs' | 'relative';

export interface HeatCell {
  row: string;
  kind: string;
  /** null: no bias here at this step, or (relative mode) b₀ = 0, where a relative change is undefined. */
  value: number | null;
  biases: BiasCell[];
}

export interface HeatGrid {
  rows: string[];
  kinds: string[];
  /** cells[r][k], one per row × kind (biases empty where the model has no such bias or it is frozen). */
  cells: HeatCell[][];
  /** Step of the bias-change event shown; undefined before the first one. */
  step: number | undefined;
  /** Largest value in this grid (0 when empty). */
  max: number;
}

export interface HeatLayout {
  rows: string[];
  kinds: string[];
}

const FALLBACK_KINDS = ['query', 'key', 'value', 'attention.output', 'attention.LayerNorm', 'intermediate', 'output', 'output.LayerNorm'];

/** The column a bias goes in (see the mapping above). */
export function columnOf(cell: Pick<BiasCell, 'kind' | 'name'>, kinds: readonly string[]): string {
  if (kinds.includes(cell.kind)) return cell.kind;
  const mapped =
    cell.kind === 'embeddings.LayerNorm'
      ? 'output.LayerNorm'
      : cell.kind === 'head' && /(^|\.)pre_classifier\./.test(cell.name)
        ? 'intermediate'
        : 'output'; // pooler, head, and any kind a newer engine may add
  return kinds.includes(mapped) ? mapped : kinds[kinds.length - 1]!;
}

/** Rows and kinds from the started event; rows a bias event names but the layout lacks are appended, never dropped. */
export function layoutOf(started: Pick<StartedEvent, 'heatmap'> | undefined, events: readonly BiasChangeEvent[]): HeatLayout {
  const rows = [...(started?.heatmap.rows ?? [])];
  const kinds = started?.heatmap.kinds.length ? [...started.heatmap.kinds] : [...FALLBACK_KINDS];
  const latest = events[events.length - 1];
  for (const c of latest?.cells ?? []) if (!rows.includes(c.row)) rows.push(c.row);
  return { rows, kinds };
}

export function valueOf(cell: BiasCell, mode: HeatMode): number | null {
  const v = mode === 'meanAbs' ? cell.meanAbs : cell.relative;
  return v !== null && Number.isFinite(v) ? v : null;
}

export function buildGrid(layout: HeatLayout, event: BiasChangeEvent | undefined, mode: HeatMode): HeatGrid {
  const cells = layout.rows.map((row) => layout.kinds.map((kind): HeatCell => ({ row, kind, value: null, biases: [] })));
  let max = 0;
  for (const b of event?.cells ?? []) {
    const r = layout.rows.indexOf(b.row);
    const k = layout.kinds.indexOf(columnOf(b, layout.kinds));
    if (r < 0 || k < 0) continue;
    const cell = cells[r]![k]!;
    cell.biases.push(b);
    const v = valueOf(b, mode);
    if (v !== null && (cell.value === null || v > cell.value)) cell.value = v;
  }
  for (const row of cells) for (const c of row) if (c.value !== null && c.value > max) max = c.value;
  return { rows: layout.rows, kinds: layout.kinds, cells, step: event?.step, max };
}

/**
 * Colour-scale maximum over every event, so replaying with the scrubber shows biases growing against one
 * fixed scale instead of each frame being stretched to full colour.
 */
export function scaleMax(events: readonly BiasChangeEvent[], mode: HeatMode): number {
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

/** The cell's most-moved units across its biases, largest |delta| first. */
export function topUnits(cell: HeatCell, limit = 10): Array<{ name: string; index: number; delta: number }> {
  return cell.biases
    .flatMap((b) => b.top.map((t) => ({ name: b.name, index: t.index, delta: t.delta })))
    .sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta))
    .slice(0, limit);
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
