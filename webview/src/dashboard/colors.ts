/**
 * Run and series colours. VS Code's six chart colours are too few for a comparison of eight runs, and two
 * of them (yellow, orange) are close; so the palette is computed in OKLCH (a perceptual space), for the
 * theme's kind: one lightness and chroma per kind keep every colour readable on its background, and the hues
 * are ordered so that each colour differs most from those before it (the first two runs: blue, orange). A
 * run that is already on screen keeps its colour when another is added or removed; a new run takes the
 * first free colour.
 */

export type ThemeKind = 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';

/** Hue (degrees) and lightness offset of each colour, in the order runs take them. */
const HUES: ReadonlyArray<readonly [number, number]> = [
  [250, 0], // blue
  [55, 0], // orange
  [145, 0], // green
  [340, 0], // pink
  [195, 0], // teal
  [95, 0.06], // yellow
  [300, 0], // purple
  [25, -0.08], // red
  [120, -0.1], // olive
  [220, -0.1], // slate blue
];

/** OKLCH lightness and the chroma asked for (reduced per hue to stay inside sRGB), per theme kind. */
const BASE: Record<ThemeKind, { l: number; c: number }> = {
  dark: { l: 0.74, c: 0.15 },
  light: { l: 0.56, c: 0.16 },
  'high-contrast': { l: 0.8, c: 0.17 },
  'high-contrast-light': { l: 0.48, c: 0.17 },
};

export const PALETTE_SIZE = HUES.length;

/** The palette for a theme kind, as #rrggbb. */
export function runPalette(kind: ThemeKind): string[] {
  const { l, c } = BASE[kind];
  return HUES.map(([h, dl]) => oklchToHex(l + dl, c, h));
}

/** OKLCH → #rrggbb, lowering the chroma until the colour fits sRGB (the hue and lightness stay). */
export function oklchToHex(l: number, c: number, hueDeg: number): string {
  const h = (hueDeg * Math.PI) / 180;
  for (let chroma = c; chroma > 0; chroma -= 0.002) {
    const rgb = oklabToLinearRgb(l, chroma * Math.cos(h), chroma * Math.sin(h));
    if (rgb.every((v) => v >= -1e-4 && v <= 1 + 1e-4)) return toHex(rgb);
  }
  return toHex(oklabToLinearRgb(l, 0, 0));
}

/** #rgb / #rrggbb → OKLab [L, a, b]: for distances between colours (ΔE_OK = Euclidean distance). */
export function hexToOklab(hex: string): [number, number, number] {
  let d = hex.trim().replace(/^#/, '');
  if (d.length === 3) d = [...d].map((ch) => ch + ch).join('');
  const [r, g, b] = [0, 2, 4].map((i) => srgbToLinear(parseInt(d.slice(i, i + 2), 16) / 255)) as [number, number, number];
  const lc = Math.cbrt(0.4122214708 * r + 0.5363371495 * g + 0.0514459929 * b);
  const mc = Math.cbrt(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b);
  const sc = Math.cbrt(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b);
  return [
    0.2104542553 * lc + 0.793617785 * mc - 0.0040720468 * sc,
    1.9779984951 * lc - 2.428592205 * mc + 0.4505937099 * sc,
    0.0259040371 * lc + 0.7827717662 * mc - 0.808675766 * sc,
  ];
}

/** WCAG relative luminance of #rrggbb. */
export function luminance(hex: string): number {
  const d = hex.trim().replace(/^#/, '');
  const [r, g, b] = [0, 2, 4].map((i) => srgbToLinear(parseInt(d.slice(i, i + 2), 16) / 255)) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function oklabToLinearRgb(l: number, a: number, b: number): [number, number, number] {
  const l3 = (l + 0.3963377774 * a + 0.2158037573 * b) ** 3;
  const m3 = (l - 0.1055613458 * a - 0.0638541728 * b) ** 3;
  const s3 = (l - 0.0894841775 * a - 1.291485548 * b) ** 3;
  return [
    4.0767416621 * l3 - 3.3077115913 * m3 + 0.2309699292 * s3,
    -1.2684380046 * l3 + 2.6097574011 * m3 - 0.3413193965 * s3,
    -0.0041960863 * l3 - 0.7034186147 * m3 + 1.707614701 * s3,
  ];
}

const srgbToLinear = (v: number) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
const linearToSrgb = (v: number) => (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055);
const toHex = (rgb: number[]) => '#' + rgb.map((v) => Math.round(Math.min(1, Math.max(0, linearToSrgb(v))) * 255).toString(16).padStart(2, '0')).join('');

/**
 * Palette index for each run in `runIds`. Runs in `previous` keep their index; new runs take the first free
 * one, in palette order. With more runs than colours, indices repeat (round robin).
 */
export function assignColors(runIds: readonly string[], previous: ReadonlyMap<string, number> = new Map(), size = PALETTE_SIZE): Map<string, number> {
  const out = new Map<string, number>();
  const used = new Set<number>();
  for (const id of runIds) {
    const p = previous.get(id);
    if (p !== undefined && p < size && !used.has(p)) {
      out.set(id, p);
      used.add(p);
    }
  }
  let next = 0;
  for (const id of runIds) {
    if (out.has(id)) continue;
    let index = -1;
    for (let k = 0; k < size; k++) if (!used.has(k)) {
      index = k;
      break;
    }
    if (index < 0) index = next++ % size;
    out.set(id, index);
    used.add(index);
  }
  return out;
}

/**
 * The colours of one run's series when it is the only one shown (train loss in the run's colour, eval loss
 * and the metric in the next two), so they differ by colour and not by dash alone; with several runs shown
 * each run keeps one colour and the series differ by dash.
 */
export function seriesColors(palette: readonly string[], runIndex: number): { train: string; evalLoss: string; metric: string } {
  const at = (k: number) => palette[(runIndex + k) % palette.length]!;
  return { train: at(0), evalLoss: at(1), metric: at(2) };
}

/**
 * The colour with an alpha, for the translucent raw-loss line. Theme colours are hex (#rgb, #rrggbb,
 * #rrggbbaa) or rgb()/rgba(); anything else is returned as is (opaque beats invisible).
 */
export function withAlpha(color: string, alpha: number): string {
  const c = color.trim();
  let r: number, g: number, b: number, a = 1;
  const hex = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i.exec(c);
  if (hex) {
    let d = hex[1]!;
    if (d.length <= 4) d = [...d].map((ch) => ch + ch).join('');
    r = parseInt(d.slice(0, 2), 16);
    g = parseInt(d.slice(2, 4), 16);
    b = parseInt(d.slice(4, 6), 16);
    if (d.length === 8) a = parseInt(d.slice(6, 8), 16) / 255;
  } else {
    const fn = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:[\s,/]+([\d.]+%?))?\s*\)$/i.exec(c);
    if (!fn) return c;
    [r, g, b] = [Number(fn[1]), Number(fn[2]), Number(fn[3])];
    if (fn[4] !== undefined) a = fn[4].endsWith('%') ? Number.parseFloat(fn[4]) / 100 : Number(fn[4]);
  }
  const out = Math.round(a * alpha * 1000) / 1000;
  return `rgba(${r}, ${g}, ${b}, ${out})`;
}
