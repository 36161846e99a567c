/**
 * Run colours. Each overlaid run gets one of VS Code's six chart colours (so themes, including high
 * contrast, pick the actual hues), and keeps it: a run that is already on screen never changes colour when
 * another is added or removed, and a run's first choice comes from a hash of its id, so it usually gets the
 * same colour every time it is shown.
 */

/** VS Code's chart colour variables, in the order the palette uses them. */
export const PALETTE_VARS = [
  '--vscode-charts-blue',
  '--vscode-charts-red',
  '--vscode-charts-green',
  '--vscode-charts-yellow',
  '--vscode-charts-orange',
  '--vscode-charts-purple',
] as const;

/** VS Code's Dark Modern values, for a page outside VS Code (webview/dev) where the variables are absent. */
export const PALETTE_FALLBACK = ['#3794ff', '#f14c4c', '#89d185', '#cca700', '#d18616', '#b180d7'] as const;

/** FNV-1a, 32 bit: a small, well-spread hash, stable across sessions. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Palette index for each run in `runIds`. Runs in `previous` keep their index; new runs take their hashed
 * index, or the next free one after it. With more runs than colours, indices repeat (hashed choice).
 */
export function assignColors(runIds: readonly string[], previous: ReadonlyMap<string, number> = new Map(), size = PALETTE_VARS.length): Map<string, number> {
  const out = new Map<string, number>();
  const used = new Set<number>();
  for (const id of runIds) {
    const p = previous.get(id);
    if (p !== undefined && p < size && !used.has(p)) {
      out.set(id, p);
      used.add(p);
    }
  }
  for (const id of runIds) {
    if (out.has(id)) continue;
    const preferred = hashString(id) % size;
    let index = preferred;
    for (let k = 0; k < size; k++) {
      const candidate = (preferred + k) % size;
      if (!used.has(candidate)) {
        index = candidate;
        break;
      }
    }
    out.set(id, index);
    used.add(index);
  }
  return out;
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
