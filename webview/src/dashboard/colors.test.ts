import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assignColors, hexToOklab, luminance, PALETTE_SIZE, runPalette, seriesColors, withAlpha, type ThemeKind } from './colors';

describe('assignColors', () => {
  it('gives distinct colours while there are enough', () => {
    const ids = ['run-a', 'run-b', 'run-c', 'run-d', 'run-e', 'run-f', 'run-g', 'run-h', 'run-i', 'run-j'];
    const m = assignColors(ids);
    assert.equal(new Set(m.values()).size, 10);
  });

  it('new runs take the palette in order, deterministically', () => {
    assert.deepEqual([...assignColors(['x', 'y', 'z']).values()], [0, 1, 2]);
    assert.deepEqual(assignColors(['x', 'y', 'z']), assignColors(['x', 'y', 'z']));
    // A run added later takes the first colour no shown run holds.
    assert.equal(assignColors(['a', 'c'], new Map([['a', 1]])).get('c'), 0);
  });

  it('keeps a shown run’s colour when others come and go', () => {
    const first = assignColors(['a', 'b']);
    const more = assignColors(['c', 'a', 'd', 'b'], first);
    assert.equal(more.get('a'), first.get('a'));
    assert.equal(more.get('b'), first.get('b'));
    const fewer = assignColors(['b'], more);
    assert.equal(fewer.get('b'), first.get('b'));
  });

  it('reuses colours past the palette size, never throws', () => {
    const ids = Array.from({ length: 13 }, (_, i) => `r${i}`);
    const m = assignColors(ids);
    assert.equal(m.size, 13);
    for (const v of m.values()) assert.ok(v >= 0 && v < PALETTE_SIZE);
  });
});

/** ΔE in OKLab: Euclidean distance; about 0.02 is just noticeable, 0.1 plainly a different colour. */
const deltaE = (x: string, y: string) => Math.hypot(...hexToOklab(x).map((v, i) => v - hexToOklab(y)[i]!));
const contrast = (x: string, y: string) => {
  const [a, b] = [luminance(x), luminance(y)].sort((p, q) => q - p) as [number, number];
  return (a + 0.05) / (b + 0.05);
};
const BACKGROUND: Record<ThemeKind, string> = { dark: '#1f1f1f', light: '#ffffff', 'high-contrast': '#000000', 'high-contrast-light': '#ffffff' };

describe('runPalette', () => {
  for (const kind of Object.keys(BACKGROUND) as ThemeKind[]) {
    it(`${kind}: at least 8 colours, each pair clearly apart in OKLab, each readable on the background`, () => {
      const p = runPalette(kind);
      assert.ok(p.length >= 8);
      for (const c of p) assert.match(c, /^#[0-9a-f]{6}$/);
      let min = Infinity;
      for (let i = 0; i < p.length; i++) for (let j = 0; j < i; j++) min = Math.min(min, deltaE(p[i]!, p[j]!));
      assert.ok(min >= 0.09, `closest pair ΔE_OK ${min.toFixed(3)}`);
      // The first two runs (the usual comparison) differ most: no two oranges.
      assert.ok(deltaE(p[0]!, p[1]!) >= 0.2, `first two ΔE_OK ${deltaE(p[0]!, p[1]!).toFixed(3)}`);
      for (const c of p) assert.ok(contrast(c, BACKGROUND[kind]) >= 3, `${c} on ${BACKGROUND[kind]}: contrast ${contrast(c, BACKGROUND[kind]).toFixed(2)} (WCAG asks 3 for graphics)`);
    });
  }

  it("a lone run's train loss, eval loss and metric get three different colours", () => {
    const p = runPalette('dark');
    for (let i = 0; i < p.length; i++) {
      const s = seriesColors(p, i);
      assert.equal(s.train, p[i]);
      assert.ok(deltaE(s.train, s.evalLoss) >= 0.09 && deltaE(s.train, s.metric) >= 0.09 && deltaE(s.evalLoss, s.metric) >= 0.09);
    }
  });
});

describe('withAlpha', () => {
  it('handles the colour forms themes use', () => {
    assert.equal(withAlpha('#3794ff', 0.25), 'rgba(55, 148, 255, 0.25)');
    assert.equal(withAlpha('#fff', 0.5), 'rgba(255, 255, 255, 0.5)');
    assert.equal(withAlpha('#00000080', 0.5), 'rgba(0, 0, 0, 0.251)');
    assert.equal(withAlpha('rgb(1, 2, 3)', 0.3), 'rgba(1, 2, 3, 0.3)');
    assert.equal(withAlpha('rgba(1, 2, 3, 0.5)', 0.5), 'rgba(1, 2, 3, 0.25)');
    assert.equal(withAlpha('rgb(1 2 3 / 50%)', 1), 'rgba(1, 2, 3, 0.5)');
  });

  it('returns what it cannot parse unchanged', () => {
    assert.equal(withAlpha('color-mix(in srgb, red, blue)', 0.5), 'color-mix(in srgb, red, blue)');
  });
});
