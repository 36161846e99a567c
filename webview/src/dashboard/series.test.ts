import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyEvent, emptyRunView } from '../../../protocol/webview';
import type { EvalEvent } from '../../../engine/protocol/events';
import { syntheticRun } from '../shared/test-fixtures';
import { appendPoints, metricNames, metricOf, RunSeries } from './series';
import { smooth } from './smoothing';
import { bestEval, summarize } from './summary';

const view = (steps: number, evalEvery = 0) => {
  const v = emptyRunView('r', 'R', 'queued');
  for (const e of syntheticRun('r', { steps, evalEvery, totalSteps: 100 })) applyEvent(v, e);
  return v;
};

describe('chart data mapping', () => {
  it('appendPoints maps columns to {x, y} and skips non-finite values', () => {
    const out: Array<{ x: number; y: number }> = [];
    appendPoints(out, [1, 2, 3, 4], [0.5, NaN, Infinity, 0.25], 0);
    assert.deepEqual(out, [{ x: 1, y: 0.5 }, { x: 4, y: 0.25 }]);
    appendPoints(out, [1, 2, 3, 4, 5], [0.5, NaN, Infinity, 0.25, 0.2], 4);
    assert.deepEqual(out.at(-1), { x: 5, y: 0.2 });
  });

  it('RunSeries appends incrementally and equals a full rebuild', () => {
    const v = view(50);
    const s = new RunSeries('r');
    const partial = { ...v, steps: { ...v.steps, step: v.steps.step.slice(0, 20), loss: v.steps.loss.slice(0, 20), lr: v.steps.lr.slice(0, 20) } };
    assert.ok(s.sync(partial, 1, 0.6, ''));
    const raw = s.raw;
    assert.ok(s.sync(v, 1, 0.6, ''));
    assert.equal(s.raw, raw, 'same array, appended in place');
    assert.equal(s.raw.length, 50);
    assert.equal(s.sync(v, 1, 0.6, ''), false);
    const expected = smooth(v.steps.loss, 0.6);
    s.smoothed.forEach((p, i) => assert.ok(Math.abs(p.y - expected[i]!) < 1e-12));
    assert.deepEqual(s.lr.map((p) => p.x), v.steps.step);
  });

  it('RunSeries starts over on a new generation or weight', () => {
    const v = view(10);
    const s = new RunSeries('r');
    s.sync(v, 1, 0.6, '');
    const raw = s.raw;
    assert.ok(s.sync(v, 2, 0.6, ''));
    assert.notEqual(s.raw, raw);
    assert.equal(s.raw.length, 10);
    const raw2 = s.raw;
    assert.ok(s.sync(v, 2, 0, ''));
    assert.equal(s.raw, raw2, 'a new weight re-smooths only');
    assert.deepEqual(s.smoothed.map((p) => p.y), v.steps.loss);
    s.sync({ ...v, steps: { ...v.steps, step: [...v.steps.step, 11], loss: [...v.steps.loss, 0.5], lr: [...v.steps.lr, 0] } }, 2, 0, '');
    assert.deepEqual(s.smoothed.at(-1), { x: 11, y: 0.5 }, 'and keeps appending after it');
  });

  it('eval series: loss and the primary (or chosen) metric', () => {
    const v = view(30, 10);
    const s = new RunSeries('r');
    s.sync(v, 1, 0.6, '');
    assert.equal(s.metricName, 'accuracy');
    assert.deepEqual(s.evalLoss.map((p) => p.x), [10, 20, 30]);
    s.sync(v, 1, 0.6, 'f1');
    assert.equal(s.metricName, 'f1');
    assert.equal(s.metric[0]!.y, v.evals[0]!.metrics.f1);
    assert.deepEqual(metricNames([v]), ['accuracy', 'f1']);
    assert.equal(metricOf([], ''), undefined);
  });
});

describe('summary', () => {
  it('latest values, token-rate window, trainable and backend', () => {
    const v = view(30, 10);
    const s = summarize(v);
    assert.equal(s.step, 30);
    assert.equal(s.totalSteps, 100);
    assert.equal(s.loss, v.steps.loss.at(-1));
    assert.equal(s.backend, 'tensorflow');
    assert.equal(s.trainable!.count, 102_914);
    const tail = v.steps.tokensPerSec.slice(-20);
    assert.ok(Math.abs(s.tokensPerSec! - tail.reduce((a, b) => a + b) / 20) < 1e-9);
  });

  it('best eval is the latest one flagged best', () => {
    const v = emptyRunView('r', 'R', 'running');
    const ev = (step: number, acc: number, isBest: boolean): EvalEvent => ({ v: 1, type: 'eval', step, epoch: 1, loss: 0.3, metrics: { accuracy: acc }, primary: 'accuracy', isBest, examples: 10, seconds: 1 });
    v.evals.push(ev(10, 0.8, true), ev(20, 0.9, true), ev(30, 0.85, false));
    assert.deepEqual(bestEval(v), { metric: 'accuracy', value: 0.9, step: 20 });
    assert.equal(summarize(emptyRunView('x', 'X', 'queued')).best, undefined);
  });
});
