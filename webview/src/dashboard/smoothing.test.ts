import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clampWeight, Ema, smooth } from './smoothing';

const close = (actual: number[], expected: number[]) => {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => {
    if (Number.isNaN(expected[i]!)) assert.ok(Number.isNaN(a), `index ${i}: expected NaN, got ${a}`);
    else assert.ok(Math.abs(a - expected[i]!) < 1e-12, `index ${i}: ${a} ≠ ${expected[i]}`);
  });
};

describe('smooth (TensorBoard debiased EMA)', () => {
  it('matches hand-computed values for w = 0.5', () => {
    // n=1: last=0.5, /(1-0.5)=1;  n=2: last=1.25, /(1-0.25)=5/3;  n=3: last=2.125, /(1-0.125)=17/7
    close(smooth([1, 2, 3], 0.5), [1, 5 / 3, 17 / 7]);
  });

  it('matches hand-computed values for w = 0.9', () => {
    // n=1: last=0.4 → 4;  n=2: last=0.36+0.2=0.56, /(1-0.81)=0.56/0.19
    close(smooth([4, 2], 0.9), [4, 0.56 / 0.19]);
  });

  it('is the identity at w = 0', () => {
    close(smooth([3, 1, 4, 1, 5], 0), [3, 1, 4, 1, 5]);
  });

  it('returns a constant series exactly', () => {
    assert.deepEqual(smooth([0.7, 0.7, 0.7, 0.7], 0.99), [0.7, 0.7, 0.7, 0.7]);
  });

  it('passes non-finite values through without counting them', () => {
    // the NaN does not advance n: third point is n=2 → (0.25 + 1.5) / 0.75
    close(smooth([1, NaN, 3], 0.5), [1, NaN, 1.75 / 0.75]);
  });

  it('clamps the weight to TensorBoard’s 0…0.999', () => {
    assert.equal(clampWeight(1), 0.999);
    assert.equal(clampWeight(-1), 0);
    assert.equal(clampWeight(NaN), 0);
  });

  it('incremental Ema equals the batch result', () => {
    const xs = [2.3, 1.9, 2.1, 1.4, 1.2, 1.25, 0.9];
    const ema = new Ema(0.6);
    close(xs.map((x) => ema.push(x)), smooth(xs, 0.6));
  });
});
