/**
 * A small loss chart for notebook outputs: chart.js lines over `{x: step, y}` points, no zoom, no
 * animation. Notebook outputs are many and short-lived, so this is the dashboard's chart without the
 * controls (the dashboard is one click away for a closer look).
 */
import { Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip, type ChartDataset } from 'chart.js';
import { withAlpha } from '../dashboard/colors';
import type { Point } from '../dashboard/series';
import { formatValue } from '../shared/format';
import type { Theme } from '../shared/theme';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);

export interface Line {
  label: string;
  color: string;
  points: Point[];
  /** Raw loss: thin and translucent context for the smoothed line; left out of the legend. */
  raw?: boolean;
  /** Evaluation points: dashed, with markers. */
  eval?: boolean;
  /** One part of a distillation loss (kd, task, cos): thin, dotted, in the legend. */
  part?: boolean;
}

export class MiniLossChart {
  private readonly chart: Chart<'line', Point[]>;

  constructor(canvas: HTMLCanvasElement, private theme: Theme, private readonly legend: boolean) {
    this.chart = new Chart<'line', Point[]>(canvas, { type: 'line', data: { datasets: [] }, options: this.options() });
  }

  update(lines: Line[]): void {
    const hc = this.theme.highContrast;
    this.chart.data.datasets = lines.map(
      (l): ChartDataset<'line', Point[]> => ({
        type: 'line',
        label: l.label,
        data: l.points,
        borderColor: l.raw ? withAlpha(l.color, hc ? 0.55 : 0.3) : l.color,
        backgroundColor: l.color,
        borderWidth: l.raw || l.part ? (hc ? 2 : 1.25) : hc ? 3 : 2,
        borderDash: l.eval ? [6, 4] : l.part ? [2, 3] : undefined,
        pointRadius: l.eval ? 3 : 0,
        pointHitRadius: 4,
        tension: 0,
        order: l.raw ? 2 : 1,
      }),
    );
    // A run output shows a legend only when it has loss parts to tell apart.
    const legend = this.chart.options.plugins?.legend;
    if (legend) legend.display = this.legend || lines.some((l) => l.part);
    this.chart.update('none');
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.chart.options = this.options();
    this.chart.update('none');
  }

  destroy(): void {
    this.chart.destroy();
  }

  private options(): Chart<'line', Point[]>['options'] {
    const t = this.theme;
    const axis = (title: string) => ({
      type: 'linear' as const,
      title: { display: true, text: title, color: t.muted },
      grid: { color: t.grid, lineWidth: t.highContrast ? 1 : 0.5 },
      ticks: { color: t.foreground, callback: (v: string | number) => formatValue(Number(v)), maxTicksLimit: 6 },
    });
    return {
      parsing: false,
      normalized: true,
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      font: { family: t.fontFamily, size: t.fontSize },
      scales: { x: { ...axis('step'), ticks: { ...axis('step').ticks, callback: (v: string | number) => String(v) } }, y: axis('loss') },
      plugins: {
        legend: { display: this.legend, position: 'top', align: 'end', labels: { color: t.foreground, boxWidth: 14, boxHeight: 2, filter: (item) => !/\((raw|eval)\)$/.test(item.text) } },
        tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${formatValue(c.parsed.y)}` } },
      },
    } as Chart<'line', Point[]>['options'];
  }
}
