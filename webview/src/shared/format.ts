/** Number formatting for cards, tooltips and labels: short, and never "NaN" where a dash reads better. */

const DASH = '–';

/** Loss-like values: 4 significant digits, exponent form when tiny or huge. */
export function formatValue(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return DASH;
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a < 1e-3 || a >= 1e5 ? x.toExponential(2) : String(Number(x.toPrecision(4)));
}

/** Learning rates are read as exponents (2e-5, not 0.00002). */
export function formatLr(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return DASH;
  return x === 0 ? '0' : x.toExponential(2).replace(/\.?0+e/, 'e');
}

/** 1234567 → "1.23M"; counts below 10 000 keep their digits. */
export function formatCount(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return DASH;
  const a = Math.abs(x);
  if (a < 1e4) return String(Math.round(x));
  for (const [div, unit] of [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']] as const) if (a >= div) return `${Number((x / div).toPrecision(3))}${unit}`;
  return String(x);
}

/** Percent of trainable parameters: BitFit is ~0.1 %, so small values keep two significant digits. */
export function formatPercent(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return DASH;
  return `${x >= 10 ? x.toFixed(1) : Number(x.toPrecision(2))}%`;
}

/** Signed delta of one bias unit. */
export function formatDelta(x: number): string {
  const s = Math.abs(x) < 1e-3 && x !== 0 ? Math.abs(x).toExponential(2) : Math.abs(x).toFixed(4);
  return `${x < 0 ? '−' : '+'}${s}`;
}
