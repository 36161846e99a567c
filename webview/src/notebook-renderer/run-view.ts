/** One run cell's output: status line (method and its settings), loss chart (raw + smoothed + eval loss), metrics, what-moved grid. */
import { BITFIT_MEASURE } from '../../../engine/protocol/events';
import { seriesColors } from '../dashboard/colors';
import type { RunOutput } from '../../../protocol/notebook-output';
import { h, setText } from '../shared/dom';
import { formatCount, formatPercent, formatValue } from '../shared/format';
import type { Theme } from '../shared/theme';
import { MiniLossChart } from './chart';
import { heatTable } from './heat-table';
import { componentLines, heatGridOf, lossPoints, methodOf, metricRows, parseRunOutput, progressText, teacherScore } from './model';
import { OutputView } from './output-view';

export class RunOutputView extends OutputView<RunOutput> {
  readonly root = h('div', { class: 'peft-nb run', 'data-testid': 'peft-run-output' });
  private readonly badge = h('span', { class: 'badge', 'data-testid': 'status-badge' });
  private readonly title = h('strong', { class: 'title' });
  private readonly method = h('span', { class: 'method', 'data-testid': 'run-method' });
  private readonly progress = h('span', { class: 'muted' });
  private readonly canvas = h('canvas', { role: 'img', 'aria-label': 'Training loss', 'data-testid': 'loss-chart' });
  private readonly metrics = h('table', { class: 'metrics', 'data-testid': 'metrics' });
  private readonly heat = h('div', { class: 'heat-box' });
  private readonly reason = h('pre', { class: 'reason', hidden: true });
  private readonly distill = h('pre', { class: 'distill-summary', hidden: true, 'data-testid': 'distill-summary' });
  protected readonly chart: MiniLossChart;
  private heatKey = '';

  constructor(theme: Theme) {
    super(theme, 'this output');
    this.root.append(
      h('div', { class: 'head' }, this.badge, this.title, this.method, this.progress),
      h('div', { class: 'body' }, h('div', { class: 'chart-box' }, this.canvas), h('div', { class: 'side' }, this.metrics, this.heat)),
      this.distill,
      this.reason,
    );
    this.chart = new MiniLossChart(this.canvas, theme, false);
  }

  protected parse(data: unknown): RunOutput | string {
    return parseRunOutput(data);
  }

  protected draw(o: RunOutput): void {
    this.root.dataset.status = o.status;
    this.root.dataset.runId = o.runId;
    this.badge.className = `badge status-${o.status}`;
    setText(this.badge, o.status);
    setText(this.title, o.label);
    const method = methodOf(o);
    setText(this.method, method);
    this.root.dataset.method = method;
    const trainable = o.trainable ? ` · ${formatCount(o.trainable.count)} trainable (${formatPercent(o.trainable.percent)})` : '';
    const took = o.seconds !== undefined ? ` · ${o.seconds.toFixed(1)} s` : '';
    setText(this.progress, `${progressText(o)}${trainable}${took}`);

    const { train: color, evalLoss: evalColor } = seriesColors(this.theme.palette, 0);
    const { raw, smoothed } = lossPoints(o.loss);
    const evalLoss = o.evals.map((e) => ({ x: e.step, y: e.loss })).filter((p) => Number.isFinite(p.y));
    this.chart.update([
      { label: `${o.label} (raw)`, color, points: raw, raw: true },
      { label: o.label, color, points: smoothed },
      { label: `${o.label} (eval)`, color: evalColor, points: evalLoss, eval: true },
      // A distillation run: each part of its loss, dashed, in colours of their own.
      ...componentLines(o).map((c, i) => ({ label: c.name, color: this.theme.palette[(3 + i) % this.theme.palette.length]!, points: c.points, part: true })),
    ]);
    this.root.dataset.components = Object.keys(o.components ?? {}).join(',');
    this.root.dataset.points = String(raw.length);

    const rows = metricRows(o);
    this.metrics.replaceChildren(
      h('caption', { text: o.finalMetrics ? 'Final metrics' : rows.length ? `Eval at step ${o.evals.at(-1)!.step}` : 'No evaluation yet' }),
      ...rows.map((r) => h('tr', { class: r.primary ? 'primary' : '' }, h('th', { scope: 'row', text: r.name }), h('td', { text: formatValue(r.value) }))),
      ...(o.evals.length ? [h('tr', {}, h('th', { scope: 'row', text: 'eval loss' }), h('td', { text: formatValue(o.evals.at(-1)!.loss) }))] : []),
      ...teacherRow(o),
    );
    const summary = o.distillSummary?.split('\n').slice(1).join('\n');
    this.distill.hidden = !summary;
    setText(this.distill, summary ? `Teacher vs student\n${summary}` : '');

    const heat = heatGridOf(o);
    this.root.dataset.heatCells = String(heat?.nonZero ?? 0);
    const key = heat ? `${heat.grid.step}|${heat.grid.rows.length}|${heat.grid.kinds.join(',')}|${heat.measure}` : '';
    if (key !== this.heatKey) {
      this.heatKey = key;
      const what = heat?.measure === BITFIT_MEASURE ? 'Bias change' : 'What moved';
      this.heat.replaceChildren(...(heat ? [h('div', { class: 'caption muted', text: `${what} at step ${heat.grid.step} (${heat.measure}, max ${formatValue(heat.max)})` }), heatTable(heat.grid, heat.max, heat.measure)] : []));
    }
    this.reason.hidden = !o.reason;
    // A stop the user asked for is information, not an error.
    this.reason.classList.toggle('muted', o.status !== 'failed');
    setText(this.reason, o.reason ?? '');
  }
}

/** The teacher's score beside the student's: what the distillation aims at. */
function teacherRow(o: RunOutput): HTMLTableRowElement[] {
  const t = teacherScore(o);
  return t ? [h('tr', { class: 'teacher', 'data-testid': 'teacher-metric' }, h('th', { scope: 'row', text: `teacher ${t.name}` }), h('td', { text: formatValue(t.value) }))] : [];
}
