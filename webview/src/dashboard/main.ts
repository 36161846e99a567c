/**
 * Dashboard webview entry (bundled to dist/webview/dashboard.js, an IIFE). The host's HTML only has to
 * provide <div id="app">, the stylesheet and this script (see webview/README.md); everything else is built
 * here.
 *
 * Lifecycle (STYLE.md 10): restore `vscode.getState()` and render it at once, post `dashboard/ready`, then
 * take the host's snapshot (`dashboard/didChangeState`) and its incremental updates. Messages only fold data
 * into the store; drawing happens at most once per animation frame, so a burst of event batches costs one
 * render. The state is saved with `setState` after updates: throttled to once a second, and thinned
 * (shared/persist.ts), because VS Code serialises all of it on every call.
 */
import type { WebviewToHost } from '../../../protocol/webview';
import { h, iconButton, setText } from '../shared/dom';
import { formatValue } from '../shared/format';
import { compactSnapshot } from '../shared/persist';
import { RunStore, type Snapshot } from '../shared/store';
import { observeTheme, readTheme } from '../shared/theme';
import { throttle, vscodeApi } from '../shared/vscode-api';
import { MetricCards } from './cards';
import { assignColors, seriesColors } from './colors';
import { buildGrid, layoutOf, nonZeroCells, type HeatMode } from './heatmap-model';
import { HeatmapView } from './heatmap-view';
import { LossCharts } from './loss-chart';
import { RunPicker } from './run-picker';
import { metricNames, RunSeries } from './series';
import { clampWeight, MAX_WEIGHT } from './smoothing';

interface UiState {
  /** TensorBoard's default smoothing. */
  smoothing: number;
  logScale: boolean;
  /** '' = each run's primary metric. */
  metric: string;
  heatMode: HeatMode;
}
interface Persisted {
  v: 1;
  snapshot: Snapshot;
  ui: UiState;
}

declare global {
  interface Window {
    /** e2e test hooks (webview/README.md). */
    __peftDashboard?: {
      pointCount(runId: string): number;
      heatmapNonZeroCells(runId: string): number;
      heatmapLayout(runId: string): { measure: string; kinds: string[] } | undefined;
      /** A shown distillation run's extra lines: loss parts with their point counts, the teacher's level, agreement points. */
      distillLines(runId: string): { components: Record<string, number>; teacher: number | undefined; agreement: number; summary: boolean };
      state(): unknown;
      renderStats(): { renders: number; lastMs: number; maxMs: number; latencySamples: number; latencyLastMs: number; latencyMaxMs: number; latencySumMs: number };
    };
  }
}

const vscode = vscodeApi<Persisted>();
const post = (m: WebviewToHost) => vscode.postMessage(m);
const store = new RunStore();
let ui: UiState = { smoothing: 0.6, logScale: false, metric: '', heatMode: 'value' };
let theme = readTheme();

const saved = vscode.getState();
if (saved?.v === 1 && saved.snapshot) {
  store.replace(saved.snapshot);
  const u: Partial<UiState> = saved.ui ?? {};
  ui = {
    smoothing: clampWeight(u.smoothing ?? ui.smoothing),
    logScale: u.logScale === true,
    metric: typeof u.metric === 'string' ? u.metric : '',
    heatMode: u.heatMode === 'relative' ? 'relative' : 'value',
  };
}
const persist = throttle(() => vscode.setState({ v: 1, snapshot: compactSnapshot(store.snapshot), ui }), 1000);

// ── DOM ──────────────────────────────────────────────────────────────────────
const app = document.getElementById('app') ?? document.body.appendChild(h('div', { id: 'app' }));
const title = h('h1', { text: 'PEFT Studio' });
const pauseBtn = iconButton('debug-pause', 'Pause the focused run', 'pause-button');
const resumeBtn = iconButton('debug-continue', 'Resume the focused run', 'resume-button');
const stopBtn = iconButton('debug-stop', 'Stop the focused run', 'stop-button');
const cards = new MetricCards();
const picker = new RunPicker((runIds) => {
  store.snapshot.selected = runIds;
  post({ v: 1, kind: 'dashboard/select', runIds });
  changed();
});

const smoothing = h('input', { type: 'range', min: 0, max: MAX_WEIGHT, step: 0.001, value: ui.smoothing, id: 'smoothing', 'data-testid': 'smoothing' });
const smoothingOut = h('output', { for: 'smoothing', class: 'muted' });
const logScale = h('input', { type: 'checkbox', id: 'log-scale', 'data-testid': 'log-scale' });
const metricSelect = h('select', { id: 'metric', 'aria-label': 'Eval metric on the right axis', 'data-testid': 'metric-select' });
const zoomIn = iconButton('zoom-in', 'Zoom in (steps)');
const zoomOut = iconButton('zoom-out', 'Zoom out (steps)');
const zoomReset = iconButton('screen-normal', 'Reset zoom', 'zoom-reset');
const lossCanvas = h('canvas', { 'data-testid': 'loss-chart', role: 'img', 'aria-label': 'Training loss' });
const lrCanvas = h('canvas', { 'data-testid': 'lr-chart', role: 'img', 'aria-label': 'Learning rate' });
const distillHint = h('span', { hidden: true, text: " Distillation: the loss's kd, task and cos parts dashed in the run's colour; the teacher's score a flat line on the metric axis; agreement with the teacher ▲." });
/** A distillation run's closing teacher-vs-student table (the engine's final log), shown once the run ends. */
const distillPanel = h('section', { class: 'panel distill-panel', 'aria-labelledby': 'distill-title', 'data-testid': 'distill-summary', hidden: true });
const distillPre = h('pre', { class: 'distill-table' });
distillPanel.append(h('h2', { id: 'distill-title', text: 'Teacher vs student' }), distillPre);
const heatmap = new HeatmapView(ui.heatMode, (mode) => {
  ui.heatMode = mode;
  persist();
});

app.replaceChildren(
  h('header', { class: 'topbar' }, title, h('div', { class: 'controls', role: 'toolbar', 'aria-label': 'Run controls' }, pauseBtn, resumeBtn, stopBtn)),
  cards.root,
  // Two columns in an editor-wide panel: the loss charts, and beside them the runs and the heatmap (a
  // 12-layer model's rows fit beside the charts instead of below them); one column when narrow.
  h(
    'div',
    { class: 'layout' },
    h(
      'main',
      { class: 'main' },
      h(
        'section',
        { class: 'panel chart-panel', 'aria-labelledby': 'charts-title' },
        h(
          'div',
          { class: 'panel-toolbar' },
          h('h2', { id: 'charts-title', text: 'Loss' }),
          h('label', { class: 'field', for: 'smoothing' }, 'Smoothing', smoothing, smoothingOut),
          h('label', { class: 'field', for: 'log-scale' }, logScale, 'Log scale'),
          h('label', { class: 'field', for: 'metric' }, 'Metric', metricSelect),
          h('span', { class: 'spacer' }),
          h('span', { class: 'zoom-buttons' }, zoomIn, zoomOut, zoomReset),
        ),
        h('div', { class: 'chart-box loss-box' }, lossCanvas),
        h('div', { class: 'chart-box lr-box' }, lrCanvas),
        h(
          'p',
          { class: 'muted hint' },
          'Solid: smoothed train loss · faint: raw · dashed: eval loss · dotted ◆: eval metric (right axis). ',
          'Wheel zooms, drag pans, Shift+drag zooms to a box, double-click resets.',
          distillHint,
        ),
      ),
      distillPanel,
    ),
    h('aside', { class: 'side' }, picker.root, heatmap.root),
  ),
);

const charts = new LossCharts(lossCanvas, lrCanvas, theme);
const series = new Map<string, RunSeries>();
let colorIndex = new Map<string, number>();

smoothing.addEventListener('input', () => {
  ui.smoothing = clampWeight(Number(smoothing.value));
  changed();
});
logScale.addEventListener('change', () => {
  ui.logScale = logScale.checked;
  changed();
});
metricSelect.addEventListener('change', () => {
  ui.metric = metricSelect.value;
  changed();
});
zoomIn.addEventListener('click', () => charts.zoomBy(1.25));
zoomOut.addEventListener('click', () => charts.zoomBy(0.8));
zoomReset.addEventListener('click', () => charts.resetZoom());
for (const [btn, kind] of [[pauseBtn, 'run/pause'], [resumeBtn, 'run/resume'], [stopBtn, 'run/stop']] as const)
  btn.addEventListener('click', () => {
    const runId = store.focused()?.runId;
    if (runId) post({ v: 1, kind, runId });
  });

// ── rendering ────────────────────────────────────────────────────────────────
let frame = 0;
function changed(): void {
  persist();
  if (!frame) frame = requestAnimationFrame(render);
}

const stats = { renders: 0, lastMs: 0, maxMs: 0, latencySamples: 0, latencyLastMs: 0, latencyMaxMs: 0, latencySumMs: 0 };
function render(): void {
  frame = 0;
  const t0 = performance.now();
  const shown = store.shown();
  const focus = shown[0];
  colorIndex = assignColors(shown.map((r) => r.runId), colorIndex);
  const colors = new Map(shown.map((r) => [r.runId, theme.palette[colorIndex.get(r.runId)! % theme.palette.length]!]));

  picker.update(store.snapshot.runs, shown.map((r) => r.runId), colors);
  setText(title, focus ? `PEFT Studio · ${focus.label}` : 'PEFT Studio');
  const status = focus?.status;
  pauseBtn.disabled = status !== 'running';
  resumeBtn.disabled = status !== 'paused';
  stopBtn.disabled = !(status === 'running' || status === 'paused' || status === 'queued');

  // Series are kept only for shown runs; a run shown again is rebuilt from its columns (one pass).
  for (const id of series.keys()) if (!colors.has(id)) series.delete(id);
  for (const r of shown) {
    let s = series.get(r.runId);
    if (!s) series.set(r.runId, (s = new RunSeries(r.runId)));
    s.sync(r, store.generation(r.runId), ui.smoothing, ui.metric);
  }
  charts.forget(new Set(colors.keys()));
  const metricLabel = ui.metric || [...new Set(shown.map((r) => series.get(r.runId)!.metricName).filter(Boolean))].join(' / ') || 'metric';
  // A lone run's eval loss and metric get colours of their own; overlaid runs keep one colour each, dashes apart.
  const lone = shown.length === 1 ? seriesColors(theme.palette, colorIndex.get(shown[0]!.runId)!) : undefined;
  charts.update(
    shown.map((r) => ({ runId: r.runId, label: r.label, color: colors.get(r.runId)!, evalLossColor: lone?.evalLoss, metricColor: lone?.metric, series: series.get(r.runId)! })),
    { logScale: ui.logScale, metricLabel },
  );
  const fs = focus && series.get(focus.runId);
  const lastSmoothed = fs?.smoothed[fs.smoothed.length - 1]?.y;
  lossCanvas.setAttribute('aria-label', focus ? `Training loss of ${shown.map((r) => r.label).join(', ')}; ${focus.label} latest smoothed ${formatValue(lastSmoothed)}` : 'Training loss: no run');

  distillHint.hidden = !shown.some((r) => r.started?.distill || r.components);
  const summary = focus?.distillSummary;
  distillPanel.hidden = !summary;
  if (summary) setText(distillPre, summary.split('\n').slice(1).join('\n'));
  cards.update(focus, lastSmoothed);
  heatmap.update(focus);
  renderToolbar(shown);
  stats.renders++;
  stats.lastMs = performance.now() - t0;
  stats.maxMs = Math.max(stats.maxMs, stats.lastMs);
  const drawnAt = Date.now();
  for (const t of pendingEventTimes) {
    const l = drawnAt - t;
    stats.latencySamples++;
    stats.latencyLastMs = l;
    stats.latencySumMs += l;
    stats.latencyMaxMs = Math.max(stats.latencyMaxMs, l);
  }
  pendingEventTimes = [];
}

function renderToolbar(shown: ReturnType<RunStore['shown']>): void {
  smoothing.value = String(ui.smoothing);
  setText(smoothingOut, ui.smoothing.toFixed(3));
  logScale.checked = ui.logScale;
  const names = metricNames(shown);
  const options = ['', ...names];
  if (metricSelect.options.length !== options.length || options.some((o, i) => metricSelect.options[i]!.value !== o)) {
    metricSelect.replaceChildren(...options.map((o) => h('option', { value: o, text: o || 'primary' })));
  }
  metricSelect.value = names.includes(ui.metric) ? ui.metric : '';
}

// ── messages, theme ──────────────────────────────────────────────────────────
// Event-to-chart latency: a step event carries the worker's wall clock at emission; the time it is drawn
// is measured at the end of the next render. Same machine, same clock (reported in renderStats).
let pendingEventTimes: number[] = [];
window.addEventListener('message', (e: MessageEvent<unknown>) => {
  const m = e.data as { kind?: string; events?: Array<{ type?: string; time?: unknown }> };
  if (m?.kind === 'run/didAppendEvents' && Array.isArray(m.events)) {
    for (const ev of m.events) if (ev?.type === 'step' && typeof ev.time === 'number') pendingEventTimes.push(ev.time);
  }
  if (store.apply(e.data)) changed();
});

observeTheme(() => {
  theme = readTheme();
  charts.setTheme(theme);
  render();
});

// Surface webview errors in the host's output channel: the webview's own console is out of sight.
window.addEventListener('error', (e) => post({ v: 1, kind: 'dashboard/log', level: 'error', message: String(e.message).slice(0, 4000) }));

window.__peftDashboard = {
  pointCount: (runId) => charts.pointCount(runId),
  heatmapNonZeroCells: (runId) => {
    const run = store.run(runId);
    if (!run) return 0;
    return nonZeroCells(buildGrid(layoutOf(run.started, run.changes), run.changes[run.changes.length - 1], 'value'));
  },
  heatmapLayout: (runId) => {
    const run = store.run(runId);
    if (!run) return undefined;
    const l = layoutOf(run.started, run.changes);
    return { measure: l.measure, kinds: l.kinds };
  },
  distillLines: (runId) => {
    const d = series.get(runId)?.distill;
    return { components: Object.fromEntries((d?.components ?? []).map((c) => [c.name, c.points.length])), teacher: d?.teacher, agreement: d?.agreement.length ?? 0, summary: !!store.run(runId)?.distillSummary };
  },
  state: () => ({ snapshot: store.snapshot, ui, focused: store.focused()?.runId, shown: store.shown().map((r) => r.runId), zoomed: charts.loss.isZoomedOrPanned() }),
  renderStats: () => ({ ...stats }),
};

// A restored state is drawn at once (no rAF wait), before the host has answered `ready`.
render();
post({ v: 1, kind: 'dashboard/ready' });
