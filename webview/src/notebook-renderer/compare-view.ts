/**
 * A comparison output: the runs' smoothed losses overlaid, the config keys that differ (one column per run,
 * values that differ from the first run highlighted), and final metrics with each metric's best marked.
 */
import type { CompareOutput } from '../../../protocol/notebook-output';
import { assignColors } from '../dashboard/colors';
import { h } from '../shared/dom';
import { formatValue } from '../shared/format';
import type { Theme } from '../shared/theme';
import { MiniLossChart } from './chart';
import { lossPoints, parseCompareOutput } from './model';
import { OutputView } from './output-view';

/** Metrics where smaller is better; every other metric (accuracy, F1, MCC, correlations) is larger-better. */
const LOWER_IS_BETTER = /loss|error|perplexity/i;

export class CompareOutputView extends OutputView<CompareOutput> {
  readonly root = h('div', { class: 'peft-nb compare', 'data-testid': 'peft-compare-output' });
  private readonly canvas = h('canvas', { role: 'img', 'aria-label': 'Training loss of the compared runs' });
  private readonly tables = h('div', { class: 'tables' });
  protected readonly chart: MiniLossChart;

  constructor(theme: Theme) {
    super(theme, 'this comparison');
    this.root.append(h('div', { class: 'chart-box' }, this.canvas), this.tables);
    this.chart = new MiniLossChart(this.canvas, theme, true);
  }

  protected parse(data: unknown): CompareOutput | string {
    return parseCompareOutput(data);
  }

  protected draw(c: CompareOutput): void {
    const index = assignColors(c.runs.map((r) => r.runId));
    const colors = c.runs.map((r) => this.theme.palette[index.get(r.runId)! % this.theme.palette.length]!);
    this.chart.update(c.runs.map((r, i) => ({ label: r.label, color: colors[i]!, points: lossPoints(r.loss).smoothed })));

    const swatch = (i: number) => {
      const s = h('span', { class: 'swatch', 'aria-hidden': 'true' });
      s.style.setProperty('--swatch', colors[i]!);
      return s;
    };
    const header = (first: string) => h('tr', {}, h('th', { scope: 'col', text: first }), ...c.runs.map((r, i) => h('th', { scope: 'col', title: r.runId }, swatch(i), ` ${r.label}`)));
    // The method of each run, always shown (also when every run uses the same one): what a comparison is about.
    const methods = c.runs.map((r) => r.method ?? '–');
    const methodRow = h(
      'tr',
      { 'data-testid': 'method-row' },
      h('th', { scope: 'row', text: 'method' }),
      ...methods.map((m) => h('td', { class: m === methods[0] ? 'method-cell' : 'method-cell differs', text: m })),
    );
    const diffRows = c.diff.map((d) =>
      h('tr', { 'data-testid': 'diff-row', 'data-key': d.key }, h('th', { scope: 'row', text: d.key }), ...d.values.map((v) => h('td', { class: v === d.values[0] ? '' : 'differs', text: v }))),
    );
    const diff = h(
      'table',
      { class: 'diff', 'data-testid': 'config-diff' },
      h('caption', { text: c.diff.length ? `Settings that differ (${c.sameCount} identical not shown)` : `All ${c.sameCount} settings are identical` }),
      h('thead', {}, header('setting')),
      h('tbody', {}, methodRow, ...diffRows),
    );
    const metricRows = c.metrics.map((m) => {
      const values = c.runs.map((r) => r.finalMetrics[m]);
      const finite = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
      const best = finite.length > 1 ? (LOWER_IS_BETTER.test(m) ? Math.min(...finite) : Math.max(...finite)) : undefined;
      return h('tr', {}, h('th', { scope: 'row', text: m }), ...values.map((v) => h('td', { class: v !== undefined && v === best ? 'best' : '', text: formatValue(v), title: v === best ? 'best' : undefined })));
    });
    const status = h('tr', {}, h('th', { scope: 'row', text: 'status' }), ...c.runs.map((r) => h('td', {}, h('span', { class: `badge status-${r.status}`, text: r.status }))));
    const metrics = h('table', { class: 'diff', 'data-testid': 'compare-metrics' }, h('caption', { text: 'Final metrics' }), h('thead', {}, header('metric')), h('tbody', {}, status, ...metricRows));
    this.tables.replaceChildren(diff, metrics);
    this.root.dataset.diffKeys = c.diff.map((d) => d.key).join(',');
    this.root.dataset.methods = methods.join('|');
  }
}
