import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deriveSeed, mulberry32, range, shuffleInPlace } from './rng';

describe('rng', () => {
  it('mulberry32 is a fixed function of its seed (values pinned: a change would alter every run)', () => {
    // The reference mulberry32 (Tommy Ettinger's, as widely published) gives these for seed 42.
    const r = mulberry32(42);
    const first = [r(), r(), r()].map((x) => Math.round(x * 4294967296));
    assert.deepEqual(first, [2581720956, 1925393290, 3661312704]);
  });

  it('floats lie in [0, 1) and look uniform: 10 equal bins of 100,000 draws within 2% of 10,000', () => {
    const r = mulberry32(7);
    const bins = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = r();
      assert.ok(x >= 0 && x < 1);
      bins[Math.floor(x * 10)]++;
    }
    for (const b of bins) assert.ok(Math.abs(b - 10_000) < 200, `bin ${b}`);
  });

  it('deriveSeed separates streams: different epochs give different seeds, the same inputs the same', () => {
    assert.equal(deriveSeed(1, 2), deriveSeed(1, 2));
    assert.notEqual(deriveSeed(1, 2), deriveSeed(1, 3));
    assert.notEqual(deriveSeed(1, 2), deriveSeed(2, 1));
    assert.notEqual(deriveSeed(1), deriveSeed(1, 0));
  });

  it('shuffleInPlace permutes, is seeded, and reaches every permutation of 3 about equally', () => {
    const a = shuffleInPlace(range(100), mulberry32(1));
    assert.deepEqual([...a].sort((x, y) => x - y), range(100));
    assert.deepEqual(shuffleInPlace(range(100), mulberry32(1)), a);
    assert.notDeepEqual(shuffleInPlace(range(100), mulberry32(2)), a);
    const counts = new Map<string, number>();
    const r = mulberry32(3);
    for (let i = 0; i < 60_000; i++) {
      const key = shuffleInPlace([0, 1, 2], r).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    assert.equal(counts.size, 6); // a biased shuffle (e.g. j drawn from 0..n-1) would skew these
    for (const c of counts.values()) assert.ok(Math.abs(c - 10_000) < 400, `count ${c}`);
  });
});
