/**
 * The study report's charts as plain SVG text (no plotting dependency): a scatter/line chart with error
 * bars and optional log axes, and a row of heatmaps (the what-moved grids side by side). Colours come from a
 * fixed, colour-blind-safe palette (Okabe–Ito), so a method keeps its colour across charts.
 */

export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'];

export interface Series {
  name: string;
  points: Array<{ x: number; y: number; err?: number; label?: string }>;
  /** Join the points with a line (sorted by x). */
  line?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  width?: number;
  height?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function lineChart(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 720;
  const H = o.height ?? 420;
  const m = { l: 64, r: 180, t: 40, b: 52 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!o.logX || p.x > 0));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`);
  if (!all.length) {
    out.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no finished runs</text></svg>`);
    return out.join('\n');
  }
  const fx = (x: number) => (o.logX ? Math.log10(x) : x);
  let x0 = Math.min(...all.map((p) => fx(p.x)));
  let x1 = Math.max(...all.map((p) => fx(p.x)));
  let y0 = Math.min(...all.map((p) => p.y - (p.err ?? 0)));
  let y1 = Math.max(...all.map((p) => p.y + (p.err ?? 0)));
  if (o.logX) {
    x0 = Math.floor(x0 * 2) / 2 - 0.1;
    x1 = Math.ceil(x1 * 2) / 2 + 0.1;
  } else {
    const pad = Math.max(x1 - x0, Math.abs(x0) * 0.01, 1e-6) * 0.06 + (x1 - x0 < 1e-9 ? Math.max(Math.abs(x0) * 0.05, 1) : 0);
    x0 -= pad;
    x1 += pad;
  }
  // Values that agree to rounding (every seed at the majority class) still get a readable range.
  const ypad = Math.max(y1 - y0, Math.abs(y0) * 0.01, 1e-6) * 0.08 + (y1 - y0 < 1e-9 ? Math.max(Math.abs(y0) * 0.01, 1e-6) : 0);
  y0 -= ypad;
  y1 += ypad;
  const sx = (x: number) => m.l + ((fx(x) - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => m.t + ph - ((y - y0) / (y1 - y0)) * ph;
  // Axes, grid and ticks.
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  for (const t of niceTicks(y0, y1, 6)) {
    const y = sy(t);
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#eee"/>`);
    out.push(`<text x="${m.l - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${fmtTick(t)}</text>`);
  }
  const xticks = o.logX ? logTicks(x0, x1) : niceTicks(x0, x1, 6);
  for (const t of xticks) {
    const x = o.logX ? m.l + ((Math.log10(t) - x0) / (x1 - x0)) * pw : sx(t);
    out.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#eee"/>`);
    out.push(`<text x="${x.toFixed(1)}" y="${m.t + ph + 16}" text-anchor="middle">${fmtTick(t)}</text>`);
  }
  out.push(`<text x="${m.l + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(o.xLabel)}${o.logX ? ' (log scale)' : ''}</text>`);
  out.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  series.forEach((s, i) => {
    const c = PALETTE[i % PALETTE.length]!;
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!o.logX || p.x > 0)).sort((a, b) => a.x - b.x);
    // Series that share an x (methods of the same size) are set slightly apart so their error bars stay readable.
    const nudge = (i - (series.length - 1) / 2) * Math.min(6, 40 / Math.max(1, series.length));
    if (s.line && pts.length > 1) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((p) => `${(sx(p.x) + nudge).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) {
      const x = sx(p.x) + nudge;
      if (p.err) out.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${sy(p.y - p.err).toFixed(1)}" y2="${sy(p.y + p.err).toFixed(1)}" stroke="${c}" stroke-width="1.5"/>`);
      out.push(`<circle cx="${x.toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="4.5" fill="${c}"><title>${esc(`${s.name}${p.label ? ` ${p.label}` : ''}: ${p.y.toFixed(4)}${p.err ? ` ± ${p.err.toFixed(4)}` : ''}`)}</title></circle>`);
    }
    const ly = m.t + 10 + i * 20;
    out.push(`<circle cx="${m.l + pw + 16}" cy="${ly}" r="5" fill="${c}"/><text x="${m.l + pw + 26}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

export interface Heatmap {
  title: string;
  rows: string[];
  columns: string[];
  /** values[row][column]; undefined: no cell there. */
  values: Array<Array<number | undefined>>;
  measure: string;
}

/** Heatmaps side by side, each coloured against its own largest cell (methods measure different things). */
export function heatmapRow(maps: Heatmap[], title: string): string {
  const cell = 22;
  const labelW = 86;
  const gap = 36;
  const widths = maps.map((h) => labelW + h.columns.length * cell);
  const colLabelH = Math.max(60, ...maps.map((h) => Math.max(0, ...h.columns.map((c) => c.length)) * 6.2 + 10));
  const H = 40 + colLabelH + Math.max(...maps.map((h) => h.rows.length), 1) * cell + 40;
  // Wide enough for the title too (15 px bold, about 8.5 px a character): one small grid must not clip it.
  const W = Math.max(300, Math.ceil(24 + title.length * 8.5), widths.reduce((a, w) => a + w + gap, gap));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="12" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`);
  let x = gap / 2;
  for (const h of maps) {
    const max = Math.max(0, ...h.values.flat().filter((v): v is number => v !== undefined && Number.isFinite(v)));
    const top = 40 + colLabelH;
    out.push(`<text x="${x}" y="38" font-weight="bold">${esc(h.title)}</text>`);
    h.columns.forEach((c, j) => {
      const cx = x + labelW + j * cell + cell / 2;
      out.push(`<text transform="translate(${(cx + 4).toFixed(1)} ${top - 4}) rotate(-60)">${esc(c)}</text>`);
    });
    h.rows.forEach((r, i) => {
      const y = top + i * cell;
      out.push(`<text x="${x + labelW - 6}" y="${y + cell / 2 + 4}" text-anchor="end">${esc(r)}</text>`);
      h.columns.forEach((c, j) => {
        const v = h.values[i]?.[j];
        const cx = x + labelW + j * cell;
        if (v === undefined || !Number.isFinite(v)) {
          out.push(`<rect x="${cx}" y="${y}" width="${cell - 1}" height="${cell - 1}" fill="#f4f4f4"/>`);
          return;
        }
        const t = max > 0 ? v / max : 0;
        out.push(`<rect x="${cx}" y="${y}" width="${cell - 1}" height="${cell - 1}" fill="${heat(t)}"><title>${esc(`${h.title} ${r} ${c}: ${v.toPrecision(3)} (${h.measure})`)}</title></rect>`);
      });
    });
    out.push(`<text x="${x}" y="${top + h.rows.length * cell + 16}" fill="#555">${esc(h.measure)}, max ${max.toPrecision(3)}</text>`);
    x += labelW + h.columns.length * cell + gap;
  }
  out.push('</svg>');
  return out.join('\n');
}

/** White → deep blue. */
function heat(t: number): string {
  const a = Math.max(0, Math.min(1, t));
  const r = Math.round(255 - a * (255 - 8));
  const g = Math.round(255 - a * (255 - 48));
  const b = Math.round(255 - a * (255 - 107));
  return `rgb(${r},${g},${b})`;
}

function niceTicks(a: number, b: number, n: number): number[] {
  const span = b - a;
  if (!(span > 0)) return [a];
  const step0 = span / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= step0) ?? 10 * mag;
  const out: number[] = [];
  const first = Math.ceil(a / step);
  // By index, never t += step: a step below the rounding of a would never advance.
  for (let k = 0; k <= n * 3 && (first + k) * step <= b + step * 1e-9; k++) out.push(Number(((first + k) * step).toPrecision(12)));
  return out;
}

function logTicks(a: number, b: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(a); e <= Math.ceil(b); e++) {
    for (const k of [1, 3]) {
      const v = k * 10 ** e;
      const l = Math.log10(v);
      if (l >= a && l <= b) out.push(v);
    }
  }
  return out;
}

function fmtTick(t: number): string {
  if (Math.abs(t) >= 1e6) return `${+(t / 1e6).toPrecision(3)}M`;
  if (Math.abs(t) >= 1e3) return `${+(t / 1e3).toPrecision(3)}k`;
  return String(+t.toPrecision(3));
}
