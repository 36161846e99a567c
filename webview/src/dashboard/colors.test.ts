import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assignColors, hashString, PALETTE_VARS, withAlpha } from './colors';

describe('assignColors', () => {
  it('gives distinct colours while there are enough', () => {
    const ids = ['run-a', 'run-b', 'run-c', 'run-d', 'run-e', 'run-f'];
    const m = assignColors(ids);
    assert.equal(new Set(m.values()).size, 6);
  });

  it('starts from the hashed colour, deterministically', () => {
    const id = 'sst2-bitfit-2024-05-01';
    assert.equal(assignColors([id]).get(id), hashString(id) % PALETTE_VARS.length);
    assert.deepEqual(assignColors(['x', 'y', 'z']), assignColors(['x', 'y', 'z']));
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
    const ids = Array.from({ length: 9 }, (_, i) => `r${i}`);
    const m = assignColors(ids);
    assert.equal(m.size, 9);
    for (const v of m.values()) assert.ok(v >= 0 && v < PALETTE_VARS.length);
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
