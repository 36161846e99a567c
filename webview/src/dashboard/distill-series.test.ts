import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyEvent, DISTILL_SUMMARY_HEAD, emptyRunView, type RunView } from '../../../protocol/webview';
import type { RunEvent, StartedEvent, StepEvent } from '../../../engine/protocol/events';
import { syntheticRun } from '../shared/test-fixtures';
import { distillSeries, referenceLine, RunSeries } from './series';

const step = (n: number, components?: Record<string, number>): StepEvent => ({ v: 1, type: 'step', step: n, epoch: n / 10, loss: 1 / n, lr: 1e-3, gradNorm: 1, tokensPerSec: 100, time: n, ...(components ? { components } : {}) });

/** A distillation run: the synthetic run's started event with a `distill` block, steps with loss parts. */
function distillRun(steps: StepEvent[], teacherMetrics?: Record<string, number>): RunView {
  const v = emptyRunView('d', 'D', 'queued');
  const s = syntheticRun('d', { steps: 0, totalSteps: 40 })[0] as StartedEvent;
  applyEvent(v, { ...s, distill: { teacher: '/runs/t', teacherMetrics, temperature: 2, alpha_kd: 0.5, alpha_task: 0.5, alpha_cos: 0.1 } });
  for (const e of steps) applyEvent(v, e);
  return v;
}

describe('distillation lines on the dashboard', () => {
  it('folds step components into columns aligned with the steps (NaN where a step left one out)', () => {
    const v = distillRun([step(1, { kd: 0.9, task: 0.7 }), step(2), step(3, { kd: 0.5, task: 0.4, cos: 0.2 })]);
    assert.equal(v.components!.kd!.length, 3);
    assert.deepEqual(v.components!.kd, [0.9, NaN, 0.5]);
    assert.deepEqual(v.components!.cos, [NaN, NaN, 0.2]);
    const d = distillSeries(v, 'accuracy');
    assert.deepEqual(d.components.map((c) => c.name), ['kd', 'task', 'cos']);
    assert.deepEqual(d.components[0]!.points, [{ x: 1, y: 0.9 }, { x: 3, y: 0.5 }]);
    assert.deepEqual(d.components[2]!.points, [{ x: 3, y: 0.2 }]);
  });

  it('a run without components has no component lines and no columns', () => {
    const v = emptyRunView('r', 'R', 'queued');
    for (const e of syntheticRun('r', { steps: 5, evalEvery: 5, totalSteps: 5 })) applyEvent(v, e);
    assert.equal(v.components, undefined);
    assert.deepEqual(distillSeries(v, 'accuracy'), { components: [], teacher: undefined, agreement: [] });
  });

  it("draws the teacher's score on the charted metric as a flat line over the run, and agreement per eval", () => {
    const evals: RunEvent[] = [10, 20].map((s, i) => ({ v: 1, type: 'eval', step: s, epoch: 1, loss: 0.5, metrics: { accuracy: 0.8 + i * 0.05, teacher_agreement: 0.9 + i * 0.02 }, primary: 'accuracy', isBest: true, examples: 10, seconds: 1 }));
    const v = distillRun([step(1, { kd: 1, task: 1 }), step(20, { kd: 0.5, task: 0.4 })], { accuracy: 0.92, f1: 0.9 });
    for (const e of evals) applyEvent(v, e);
    const d = distillSeries(v, 'accuracy');
    assert.equal(d.teacher, 0.92);
    assert.deepEqual(d.agreement, [{ x: 10, y: 0.9 }, { x: 20, y: 0.92 }]);
    assert.equal(distillSeries(v, 'f1').teacher, 0.9);
    assert.equal(distillSeries(v, 'mcc').teacher, undefined, 'no line for a metric the teacher was not scored on');
    const s = new RunSeries('d');
    s.sync(v, 1, 0, '');
    assert.equal(s.metricName, 'accuracy');
    assert.deepEqual(s.teacherLine, [{ x: 1, y: 0.92 }, { x: 40, y: 0.92 }], 'spans the run up to its total steps');
    assert.deepEqual(referenceLine(undefined, 0, 5), []);
  });

  it("keeps the run's closing teacher-vs-student table, and cuts component columns on a resume", () => {
    const v = distillRun([step(1, { kd: 1 }), step(2, { kd: 0.8 }), step(3, { kd: 0.6 })]);
    applyEvent(v, { v: 1, type: 'log', level: 'info', message: 'some other line', time: '' });
    assert.equal(v.distillSummary, undefined);
    const table = `${DISTILL_SUMMARY_HEAD}\n  parameters     100 → 50 (50.0%)`;
    applyEvent(v, { v: 1, type: 'log', level: 'info', message: table, time: '' });
    assert.equal(v.distillSummary, table);
    const s = syntheticRun('d', { steps: 0, totalSteps: 40 })[0] as StartedEvent;
    applyEvent(v, { ...s, resumedFrom: { step: 2, path: 'x' } });
    assert.deepEqual(v.components!.kd, [1, 0.8]);
    applyEvent(v, step(3, { kd: 0.5 }));
    assert.deepEqual(v.components!.kd, [1, 0.8, 0.5]);
  });
});
