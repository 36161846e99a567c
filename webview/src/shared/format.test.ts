import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatCount, formatDelta, formatLr, formatPercent, formatValue } from './format';

describe('format', () => {
  it('values', () => {
    assert.equal(formatValue(0.693147), '0.6931');
    assert.equal(formatValue(12.3456), '12.35');
    assert.equal(formatValue(0.0001234), '1.23e-4');
    assert.equal(formatValue(0), '0');
    assert.equal(formatValue(NaN), '–');
    assert.equal(formatValue(undefined), '–');
    assert.equal(formatValue(Infinity), '∞');
  });
  it('learning rates', () => {
    assert.equal(formatLr(2e-5), '2e-5');
    assert.equal(formatLr(0.000123), '1.23e-4');
    assert.equal(formatLr(0), '0');
  });
  it('counts and percents', () => {
    assert.equal(formatCount(9999), '9999');
    assert.equal(formatCount(102_914), '103k');
    assert.equal(formatCount(109_484_547), '109M');
    assert.equal(formatPercent(0.094), '0.094%');
    assert.equal(formatPercent(12.345), '12.3%');
  });
  it('deltas are signed', () => {
    assert.equal(formatDelta(0.01234), '+0.0123');
    assert.equal(formatDelta(-0.5), '−0.5000');
    assert.equal(formatDelta(-0.00001), '−1.00e-5');
  });
});
