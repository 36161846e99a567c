import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { minMaxDecimate, sparklinePoints } from './sparkline';

describe('sparkline', () => {
  it('keeps short series whole, skipping non-finite values', () => {
    assert.deepEqual(minMaxDecimate([3, NaN, 1], 10), [{ i: 0, v: 3 }, { i: 2, v: 1 }]);
  });

  it('keeps min and max of each bucket, in order, so spikes survive', () => {
    const values = Array.from({ length: 100 }, (_, i) => (i === 37 ? 50 : 1 + (i % 2) * 0.1));
    const out = minMaxDecimate(values, 10);
    assert.ok(out.length <= 20);
    assert.ok(out.some((p) => p.i === 37 && p.v === 50));
    for (let k = 1; k < out.length; k++) assert.ok(out[k]!.i > out[k - 1]!.i);
  });

  it('maps to the box: first point left, last right, max at the top', () => {
    const pts = sparklinePoints([2, 1, 0], { width: 102, height: 22, pad: 1 });
    assert.deepEqual(pts, [[1, 1], [51, 11], [101, 21]]);
  });

  it('a flat line sits in the middle; empty gives nothing', () => {
    assert.deepEqual(sparklinePoints([5, 5], { width: 12, height: 12, pad: 1 }).map((p) => p[1]), [6, 6]);
    assert.deepEqual(sparklinePoints([], { width: 12, height: 12, pad: 1 }), []);
  });
});
