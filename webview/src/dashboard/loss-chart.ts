/**
 * The loss and learning-rate charts (chart.js). Per overlaid run: raw train loss (thin, translucent), the
 * smoothed line (solid, the run's legend entry), eval loss (dashed, points) on the loss axis, and the eval
 * metric on a right-hand axis; the learning rate gets its own short chart whose x range follows the loss
 * chart's zoom. Data is pre-parsed `{x: step, y}` (`parsing: false`, sorted, so chart.js's LTTB decimation
 * keeps 100k-point runs smooth), and updates are `update('none')`: no animation, nothing re-parsed.
 */
import {
  Chart,
  Decimation,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Tooltip,
  type ChartDataset,
  type ChartOptions,
  type LegendItem,
} from 'chart.js';
import zoomPlugin from 'chartjs-plugin-zoom';
import { formatLr, formatValue } from '../shared/format';
import type { Theme } from '../shared/theme';
import { withAlpha } from './colors';
import type { Point, RunSeries } from './series';

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Legend, Tooltip, Decimation, zoomPlugin);

export interface ChartRun {
  runId: string;
  label: string;
  color: string;
  /** Colours of the eval loss and metric lines when they differ from the run's (a lone run: colors.ts seriesColors). */
  evalLossColor?: string;
  metricColor?: string;
  series: RunSeries;
}

function colorOf(run: ChartRun, role: Line['role']): string {
  return (role === 'evalLoss' ? run.evalLossColor : role === 'metric' ? run.metricColor : undefined) ?? run.color;
}

type Line = ChartDataset<'line', Point[]> & { runId: string; role: 'raw' | 'smoothed' | 'evalLoss' | 'metric' | 'lr' | 'component' | 'teacher' | 'agreement' };
type MainRole = 'raw' | 'smoothed' | 'evalLoss' | 'metric' | 'lr';
/** Dash patterns that tell a distillation run's loss parts apart (the colour is the run's). */
const COMPONENT_DASH: Record<string, number[]> = { kd: [8, 3], task: [3, 3], cos: [1, 3] };
type LineChart = Chart<'line', Point[]>;

export class LossCharts {
  readonly loss: LineChart;
  readonly lr: LineChart;
  private readonly lines = new Map<string, Record<MainRole, Line>>();
  /** Distillation lines per run, by key (`component:kd`, `teacher`, `agreement`). */
  private readonly extra = new Map<string, Map<string, Line>>();
  private readonly hiddenRuns = new Set<string>();
  private theme: Theme;
  private shown: ChartRun[] = [];
  private lossAxisWidth = 0;
  /** The colours last drawn, per line: when they change, one update re-resolves the points' shared options. */
  private colorKey = '';
  private lrAxisWidth = 0;

  constructor(lossCanvas: HTMLCanvasElement, lrCanvas: HTMLCanvasElement, theme: Theme) {
    this.theme = theme;
    applyDefaults(theme);
    this.loss = new Chart<'line', Point[]>(lossCanvas, { type: 'line', data: { datasets: [] }, options: this.lossOptions() });
    this.lr = new Chart<'line', Point[]>(lrCanvas, { type: 'line', data: { datasets: [] }, options: this.lrOptions() });
    // TensorBoard habit: double-click resets the view.
    lossCanvas.addEventListener('dblclick', () => this.resetZoom());
  }

  /** Points (before decimation) of a run's raw loss line; 0 when the run is not shown. */
  pointCount(runId: string): number {
    return this.shown.find((r) => r.runId === runId)?.series.raw.length ?? 0;
  }

  update(runs: ChartRun[], o: { logScale: boolean; metricLabel: string }): void {
    this.shown = runs;
    const loss: Line[] = [];
    const lr: Line[] = [];
    for (const run of runs) {
      const l = this.linesFor(run);
      l.raw.data = run.series.raw;
      l.smoothed.data = run.series.smoothed;
      l.evalLoss.data = run.series.evalLoss;
      l.metric.data = run.series.metric;
      l.lr.data = run.series.lr;
      l.smoothed.label = run.label;
      l.raw.label = `${run.label} (raw)`;
      const alone = runs.length === 1;
      l.evalLoss.label = alone ? 'eval loss' : `${run.label} eval loss`;
      l.metric.label = `${alone ? '' : `${run.label} `}${run.series.metricName ?? 'metric'}`;
      l.lr.label = run.label;
      for (const line of Object.values(l)) {
        this.style(line, colorOf(run, line.role));
        line.hidden = this.hiddenRuns.has(run.runId);
      }
      loss.push(l.raw, l.smoothed, l.evalLoss, l.metric);
      lr.push(l.lr);
      loss.push(...this.distillLines(run));
    }
    this.loss.data.datasets = loss;
    this.lr.data.datasets = lr;

    const scales = this.loss.options.scales!;
    const wantType = o.logScale ? 'logarithmic' : 'linear';
    if (scales.y!.type !== wantType) scales.y = this.yScale(wantType);
    const y2 = scales.y2!;
    y2.display = runs.some((r) => r.series.metric.length > 0 || r.series.teacherLine.length > 0 || r.series.distill.agreement.length > 0);
    if (y2.title) y2.title.text = o.metricLabel;
    // update('none') never refreshes the point options chart.js shares across a dataset's points, so a line
    // that changed colour (a run shown alone, or again with others) needs one full update (no animation).
    const colorKey = loss.map((l) => l.borderColor).join();
    this.loss.update(colorKey === this.colorKey ? 'none' : undefined);
    this.colorKey = colorKey;
    this.lr.update('none');
    // The LR axis turned out wider than the loss axis it was matched to: lay the loss chart out once more.
    if ((this.loss.scales.y?.width ?? 0) < this.lrAxisWidth) this.loss.update('none');
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    applyDefaults(theme);
    // Options captured theme colours when built; rebuild them, keeping the user's zoom and y-axis type.
    const zoomed = this.loss.isZoomedOrPanned() ? { min: this.loss.scales.x!.min, max: this.loss.scales.x!.max } : undefined;
    const yType = this.loss.options.scales!.y!.type as 'linear' | 'logarithmic';
    const y2 = this.loss.options.scales!.y2!;
    this.loss.options = this.lossOptions(yType);
    this.loss.options.scales!.y2!.display = y2.display;
    if (this.loss.options.scales!.y2!.title && y2.title) this.loss.options.scales!.y2!.title.text = y2.title.text;
    this.lr.options = this.lrOptions();
    if (zoomed) Object.assign(this.loss.options.scales!.x!, zoomed);
    for (const run of this.shown) for (const line of Object.values(this.lines.get(run.runId) ?? {})) this.style(line, colorOf(run, line.role));
    this.loss.update('none');
    this.syncLrRange();
  }

  resetZoom(): void {
    this.loss.resetZoom('none');
    this.syncLrRange();
  }

  zoomBy(factor: number): void {
    this.loss.zoom({ x: factor }, 'none');
    this.syncLrRange();
  }

  /** Runs' colours are passed in on every update; this only clears state for runs no longer shown. */
  forget(keep: ReadonlySet<string>): void {
    for (const id of this.lines.keys()) if (!keep.has(id)) this.lines.delete(id);
    for (const id of this.extra.keys()) if (!keep.has(id)) this.extra.delete(id);
  }

  /**
   * A distillation run's own lines: each loss part (kd, task, cos) on the loss axis, the teacher's eval score
   * as a flat reference line and the student's agreement with the teacher on the metric axis.
   */
  private distillLines(run: ChartRun): Line[] {
    const d = run.series.distill;
    if (!d.components.length && !run.series.teacherLine.length && !d.agreement.length) return [];
    let m = this.extra.get(run.runId);
    if (!m) this.extra.set(run.runId, (m = new Map()));
    const get = (key: string, role: Line['role'], extra: Partial<ChartDataset<'line', Point[]>>): Line => {
      let line = m!.get(key);
      if (!line) m!.set(key, (line = { type: 'line', data: [], runId: run.runId, role, ...extra }));
      return line;
    };
    const out: Line[] = [];
    for (const c of d.components) {
      const line = get(`component:${c.name}`, 'component', { order: 2, borderDash: COMPONENT_DASH[c.name] ?? [4, 2] });
      line.data = c.points;
      line.label = `${run.label} · ${c.name}`;
      out.push(line);
    }
    if (run.series.teacherLine.length) {
      const line = get('teacher', 'teacher', { order: 0, yAxisID: 'y2', borderDash: [10, 4] });
      line.data = run.series.teacherLine;
      line.label = `teacher ${run.series.metricName ?? ''}`.trim();
      out.push(line);
    }
    if (d.agreement.length) {
      const line = get('agreement', 'agreement', { order: 0, yAxisID: 'y2', borderDash: [1, 2], pointStyle: 'triangle' });
      line.data = d.agreement;
      line.label = `${run.label} teacher agreement`;
      out.push(line);
    }
    for (const line of out) {
      this.style(line, run.color);
      line.hidden = this.hiddenRuns.has(run.runId);
    }
    return out;
  }

  private linesFor(run: ChartRun): Record<MainRole, Line> {
    let l = this.lines.get(run.runId);
    if (!l) {
      const make = (role: Line['role'], extra: Partial<ChartDataset<'line', Point[]>> = {}): Line => ({ type: 'line', data: [], runId: run.runId, role, ...extra });
      l = {
        raw: make('raw', { order: 3 }),
        smoothed: make('smoothed', { order: 1 }),
        evalLoss: make('evalLoss', { order: 0, borderDash: [6, 4] }),
        metric: make('metric', { order: 0, yAxisID: 'y2', borderDash: [2, 3], pointStyle: 'rectRot' }),
        lr: make('lr'),
      };
      this.lines.set(run.runId, l);
    }
    return l;
  }

  private style(line: Line, color: string): void {
    const hc = this.theme.highContrast;
    const width = { raw: hc ? 1.5 : 1, smoothed: hc ? 3 : 2, evalLoss: hc ? 2.5 : 1.5, metric: hc ? 2.5 : 1.5, lr: hc ? 2.5 : 1.5, component: hc ? 2 : 1.25, teacher: hc ? 2.5 : 1.5, agreement: hc ? 2 : 1.25 }[line.role];
    // The raw line is context, the smoothed one the signal; high contrast keeps raw readable. The teacher's
    // line is the theme's foreground: it belongs to no student run.
    line.borderColor = line.role === 'raw' ? withAlpha(color, hc ? 0.55 : 0.25) : line.role === 'teacher' ? this.theme.foreground : line.role === 'component' ? withAlpha(color, hc ? 0.9 : 0.7) : color;
    line.backgroundColor = line.borderColor;
    line.borderWidth = width;
    const isEval = line.role === 'evalLoss' || line.role === 'metric' || line.role === 'agreement';
    line.pointRadius = isEval ? (hc ? 4 : 3) : 0;
    line.pointHoverRadius = isEval ? 5 : 3;
    line.pointHitRadius = 4;
    line.tension = 0;
  }

  private yScale(type: 'linear' | 'logarithmic'): NonNullable<ChartOptions<'line'>['scales']>[string] {
    const t = this.theme;
    return {
      type,
      position: 'left',
      title: { display: true, text: type === 'logarithmic' ? 'loss (log)' : 'loss', color: t.muted },
      grid: { color: t.grid, lineWidth: t.highContrast ? 1 : 0.5 },
      // Log axes get a tick at every 0.1, 0.2 … 0.9; label only mantissas 1, 2, 3, 5 (chart.js labels 1, 2, 5;
      // a loss often spans less than a decade, where that leaves two labels).
      ticks: { color: t.foreground, callback: (v) => (type === 'linear' || isNiceLog(Number(v)) ? formatValue(Number(v)) : '') },
      afterFit: (scale) => {
        this.lossAxisWidth = scale.width;
        scale.width = Math.max(scale.width, this.lrAxisWidth);
      },
    };
  }

  private lossOptions(yType: 'linear' | 'logarithmic' = 'linear'): ChartOptions<'line'> {
    const t = this.theme;
    return {
      ...baseOptions(t),
      scales: {
        x: xScale(t),
        y: this.yScale(yType),
        y2: {
          type: 'linear',
          position: 'right',
          display: false,
          title: { display: true, text: 'metric', color: t.muted },
          grid: { drawOnChartArea: false },
          ticks: { color: t.foreground, callback: (v) => formatValue(Number(v)) },
        },
      },
      plugins: {
        ...baseOptions(t).plugins,
        legend: {
          position: 'top',
          align: 'end',
          labels: {
            color: t.foreground,
            boxWidth: 14,
            boxHeight: 2,
            // One entry per run (its smoothed line; the line styles are explained under the chart); a run shown
            // alone also lists its eval loss and metric, which then have colours of their own.
            filter: (item: LegendItem, data) => {
              const line = data.datasets[item.datasetIndex!] as Line | undefined;
              // A distillation run adds its loss parts, the teacher's line and the agreement.
              if (line?.role === 'smoothed' || line?.role === 'component' || line?.role === 'teacher' || line?.role === 'agreement') return true;
              return this.shown.length === 1 && (line?.role === 'evalLoss' || line?.role === 'metric') && line.data.length > 0;
            },
            // In drawing order (chart.js would sort by `order`, which puts eval lines before the run's).
            sort: (a: LegendItem, b: LegendItem) => a.datasetIndex! - b.datasetIndex!,
          },
          onClick: (_e, item) => this.toggleRun(item),
        },
        zoom: {
          limits: { x: { min: 'original', max: 'original' } },
          pan: { enabled: true, mode: 'x', onPan: () => this.syncLrRange() },
          zoom: {
            mode: 'x',
            wheel: { enabled: true },
            pinch: { enabled: true },
            // Shift+drag draws a zoom box; a plain drag pans (the plugin keeps the two apart by the modifier).
            drag: { enabled: true, modifierKey: 'shift', backgroundColor: withAlpha(t.focus, 0.15), borderColor: t.focus, borderWidth: 1 },
            // onZoom, not onZoomComplete: the plugin debounces the latter for the wheel, and the LR chart would lag.
            onZoom: () => this.syncLrRange(),
          },
        },
      },
    };
  }

  private lrOptions(): ChartOptions<'line'> {
    const t = this.theme;
    return {
      ...baseOptions(t),
      scales: {
        x: xScale(t),
        y: {
          type: 'linear',
          title: { display: true, text: 'lr', color: t.muted },
          grid: { color: t.grid, lineWidth: t.highContrast ? 1 : 0.5 },
          ticks: { color: t.foreground, maxTicksLimit: 4, callback: (v) => formatLr(Number(v)) },
          // Both left axes take the wider of the two natural widths, so the two x ranges line up.
          afterFit: (scale) => {
            this.lrAxisWidth = scale.width;
            scale.width = Math.max(scale.width, this.lossAxisWidth);
          },
        },
        // An empty right-hand axis as wide as the loss chart's metric axis, for the same reason.
        spacer: {
          type: 'linear',
          position: 'right',
          grid: { display: false },
          border: { display: false },
          ticks: { display: false },
          afterFit: (scale) => void (scale.width = this.loss.scales.y2?.width ?? 0),
        },
      },
      plugins: { ...baseOptions(t).plugins, legend: { display: false } },
    };
  }

  private toggleRun(item: LegendItem): void {
    const ds = this.loss.data.datasets[item.datasetIndex!] as Line | undefined;
    if (!ds) return;
    if (this.hiddenRuns.has(ds.runId)) this.hiddenRuns.delete(ds.runId);
    else this.hiddenRuns.add(ds.runId);
    for (const chart of [this.loss, this.lr]) for (const d of chart.data.datasets as Line[]) if (d.runId === ds.runId) d.hidden = this.hiddenRuns.has(ds.runId);
    this.loss.update('none');
    this.lr.update('none');
  }

  /** The LR chart shows the loss chart's x range. */
  private syncLrRange(): void {
    const x = this.lr.options.scales!.x!;
    if (this.loss.isZoomedOrPanned()) {
      x.min = this.loss.scales.x!.min;
      x.max = this.loss.scales.x!.max;
    } else {
      delete x.min;
      delete x.max;
    }
    this.lr.update('none');
  }
}

function isNiceLog(v: number): boolean {
  if (!(v > 0)) return false;
  const m = Math.round((v / 10 ** Math.floor(Math.log10(v))) * 1000) / 1000;
  return m === 1 || m === 2 || m === 3 || m === 5;
}

function applyDefaults(t: Theme): void {
  Chart.defaults.color = t.foreground;
  Chart.defaults.borderColor = t.grid;
  Chart.defaults.font.family = t.fontFamily;
  Chart.defaults.font.size = Math.max(10, t.fontSize - 1);
}

function xScale(t: Theme): NonNullable<ChartOptions<'line'>['scales']>[string] {
  return {
    type: 'linear',
    title: { display: true, text: 'step', color: t.muted },
    grid: { color: t.grid, lineWidth: t.highContrast ? 1 : 0.5 },
    // Zoomed ranges end on fractional steps; steps are integers.
    ticks: { color: t.foreground, maxRotation: 0, callback: (v) => Math.round(Number(v)).toLocaleString('en-US') },
  };
}

function baseOptions(t: Theme): ChartOptions<'line'> {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    // Pre-parsed, sorted {x, y}: required by the decimation plugin, and skips chart.js's parsing pass.
    parsing: false,
    normalized: true,
    spanGaps: true,
    interaction: { mode: 'x', intersect: false },
    plugins: {
      decimation: { enabled: true, algorithm: 'lttb' },
      tooltip: {
        backgroundColor: t.background,
        titleColor: t.foreground,
        bodyColor: t.foreground,
        borderColor: t.highContrast ? t.focus : t.grid,
        borderWidth: 1,
        // 'x' mode can catch two neighbouring points of one line; show each line once.
        filter: (item, index, items) => items.findIndex((i) => i.datasetIndex === item.datasetIndex) === index,
        callbacks: {
          title: (items) => (items.length ? `step ${Number(items[0]!.parsed.x).toLocaleString('en-US')}` : ''),
          label: (item) => {
            const role = (item.dataset as Line).role;
            return `${item.dataset.label}: ${role === 'lr' ? formatLr(item.parsed.y ?? NaN) : formatValue(item.parsed.y)}`;
          },
        },
      },
    },
  };
}
