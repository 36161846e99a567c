import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DivergenceMonitor } from './divergence';

describe('DivergenceMonitor', () => {
  it('a loss climbing to 1e7 from 0.69 is reported once, at the step it is first seen', () => {
    const m = new DivergenceMonitor();
    const losses = [0.69, 0.7, 2.1, 1.2e7, 8e7, 3e7];
    const got = losses.flatMap((l, i) => m.observe(i + 1, l, 1));
    assert.deepEqual(got.map((w) => [w.kind, w.step]), [['loss', 4]]);
    assert.match(got[0]!.message, /diverging: the loss at step 4 is 1\.20e\+7, .*the first step's 0\.69/);
    assert.match(got[0]!.message, /learning_rate/);
  });

  it('an exploding gradient norm is reported, separately from the loss', () => {
    const m = new DivergenceMonitor();
    const got = [
      ...m.observe(1, 0.7, 0.5),
      ...m.observe(2, 0.69, 0.6),
      ...m.observe(3, 0.68, 5000),
      ...m.observe(4, 100, 9000),
    ];
    assert.deepEqual(got.map((w) => [w.kind, w.step]), [['gradNorm', 3], ['loss', 4]]);
    assert.equal(m.warnings.length, 2);
  });

  it('ordinary training noise says nothing: losses that wander, fall, or briefly double', () => {
    const m = new DivergenceMonitor();
    const losses = [0.69, 0.8, 1.4, 0.5, 0.3, 0.9, 0.2, 0.05, 0.6];
    assert.deepEqual(losses.flatMap((l, i) => m.observe(i + 1, l, 1 + (i % 3))), []);
  });

  it('a tiny first loss does not make every later loss a divergence (absolute floor)', () => {
    const m = new DivergenceMonitor();
    assert.deepEqual([0.001, 0.05, 0.5, 0.9].flatMap((l, i) => m.observe(i + 1, l, 0.01 * (i + 1))), []);
  });

  it('non-finite values are left to the trainer, which stops the run', () => {
    const m = new DivergenceMonitor();
    m.observe(1, 0.7, 1);
    assert.deepEqual(m.observe(2, NaN, 1), []);
    assert.deepEqual(m.observe(3, 0.7, Infinity), []);
  });
});
