/**
 * The sidebar's loss sparkline: values → pixel coordinates for a tiny canvas, without chart.js. Long runs are
 * bucketed per pixel column keeping each bucket's min and max (in order), so a spike never disappears the way
 * it could with plain subsampling. DOM-free, unit-tested.
 */

export interface Box {
  width: number;
  height: number;
  /** Inset so the stroke is not clipped at the edges. */
  pad: number;
}

/** Keeps at most two points (min and max, in index order) per bucket; `buckets` ≥ 1. */
export function minMaxDecimate(values: readonly number[], buckets: number): Array<{ i: number; v: number }> {
  const finite: Array<{ i: number; v: number }> = [];
  values.forEach((v, i) => Number.isFinite(v) && finite.push({ i, v }));
  if (finite.length <= buckets * 2) return finite;
  const out: Array<{ i: number; v: number }> = [];
  const per = finite.length / buckets;
  for (let b = 0; b < buckets; b++) {
    const slice = finite.slice(Math.floor(b * per), Math.floor((b + 1) * per));
    if (!slice.length) continue;
    let lo = slice[0]!;
    let hi = slice[0]!;
    for (const p of slice) {
      if (p.v < lo.v) lo = p;
      if (p.v > hi.v) hi = p;
    }
    if (lo === hi) out.push(lo);
    else out.push(...(lo.i < hi.i ? [lo, hi] : [hi, lo]));
  }
  return out;
}

/** Pixel coordinates (y down) of the line through `values`, scaled to fill the box. */
export function sparklinePoints(values: readonly number[], box: Box): Array<[number, number]> {
  const w = Math.max(1, box.width - 2 * box.pad);
  const hgt = Math.max(1, box.height - 2 * box.pad);
  const pts = minMaxDecimate(values, Math.max(1, Math.floor(w)));
  if (pts.length === 0) return [];
  const n = values.length;
  let min = Infinity;
  let max = -Infinity;
  for (const p of pts) {
    min = Math.min(min, p.v);
    max = Math.max(max, p.v);
  }
  const span = max - min || 1; // a flat line sits in the middle
  const flat = max === min;
  return pts.map((p) => [box.pad + (n > 1 ? (p.i / (n - 1)) * w : w / 2), box.pad + (flat ? hgt / 2 : ((max - p.v) / span) * hgt)]);
}
