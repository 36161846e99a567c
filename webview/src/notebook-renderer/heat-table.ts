/**
 * The last what-moved matrix as a small grid, built from the dashboard's heatmap model (same rows, columns
 * and mapping of BitFit's embeddings/pooler/head biases). Read-only here: no scrubber, since a cell output
 * keeps only the newest matrix.
 */
import { BITFIT_MEASURE } from '../../../engine/protocol/events';
import type { HeatGrid } from '../dashboard/heatmap-model';
import { intensity } from '../dashboard/heatmap-model';
import { h } from '../shared/dom';
import { formatValue } from '../shared/format';

const SHORT: Record<string, string> = { 'attention.output': 'attn.out', 'attention.LayerNorm': 'attn.LN', intermediate: 'interm.', 'output.LayerNorm': 'out.LN' };

export function heatTable(grid: HeatGrid, max: number, measure: string = BITFIT_MEASURE): HTMLTableElement {
  const head = h('tr', {}, h('th', { scope: 'col' }), ...grid.kinds.map((k) => h('th', { scope: 'col', text: SHORT[k] ?? k, title: k })));
  const body = grid.cells.map((row, r) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row', text: grid.rows[r]! }),
      ...row.map((cell) => {
        const td = h('td', {
          class: cell.cells.length ? (cell.value === null ? 'undefined' : '') : 'absent',
          title: `${cell.row} · ${cell.kind}: ${measure} ${formatValue(cell.value)}${cell.cells.length ? `\n${cell.cells.map((b) => b.name).join('\n')}` : ''}`,
          'aria-label': `${cell.row} · ${cell.kind}: ${formatValue(cell.value)}`,
        });
        // CSSOM, not a style attribute: colour comes from theme variables mixed in CSS by this 0…1 weight.
        td.style.setProperty('--t', intensity(cell.value, max).toFixed(3));
        return td;
      }),
    ),
  );
  const what = measure === BITFIT_MEASURE ? 'Bias change' : 'What moved';
  return h('table', { class: 'heat', 'data-testid': 'heatmap', 'data-measure': measure, 'aria-label': `${what} at step ${grid.step ?? '–'} (${measure})` }, h('thead', {}, head), h('tbody', {}, ...body));
}
