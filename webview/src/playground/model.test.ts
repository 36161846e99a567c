import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { activeBaseText, formatLatency, formatProbability, formatScore, isPlaygroundMessage, Requests, resultRows, sameBaseRuns, shouldSubmit, showPairBox, summarize, taskOptionText } from './model';

const run = { labels: ['neg', 'pos'], task: 'classification' as const };
const trained = { label: 'pos', labelId: 1, probabilities: [0.12, 0.88], truncated: false };
const base = { label: 'neg', labelId: 0, probabilities: [0.5004, 0.4996], truncated: false };

describe('playground page logic', () => {
  it('formats probabilities, scores and latencies as text', () => {
    assert.equal(formatProbability(0.8766), '87.7%');
    assert.equal(formatProbability(0), '0.0%');
    assert.equal(formatProbability(1), '100.0%');
    assert.equal(formatProbability(0.0001), '<0.1%');
    assert.equal(formatProbability(0.99991), '>99.9%');
    assert.equal(formatProbability(NaN), '–');
    assert.equal(formatScore(3.14159), '3.142');
    assert.equal(formatScore(undefined), '–');
    assert.equal(formatLatency(2.345), '2.3 ms');
    assert.equal(formatLatency(123.6), '124 ms');
    assert.equal(formatLatency(2500), '2.50 s');
  });

  it('lays out one row per class, marking what each model predicts', () => {
    const rows = resultRows(run, trained, base);
    assert.deepEqual(rows.map((r) => [r.label, r.trainedText, r.baseText, r.trainedPicked, r.basePicked]), [
      ['neg', '12.0%', '50.0%', false, true],
      ['pos', '88.0%', '50.0%', true, false],
    ]);
  });

  it('multi-label marks every label at or over 0.5', () => {
    const ml = { labels: ['a', 'b', 'c'], task: 'multi_label' as const };
    const p = { label: 'a', labelId: 0, probabilities: [0.9, 0.5, 0.1], truncated: false };
    assert.deepEqual(resultRows(ml, p, p).map((r) => r.trainedPicked), [true, true, false]);
    assert.equal(summarize(ml, p, { ...p, probabilities: [0.1, 0.2, 0.3] }), 'Trained: a 90.0%, b 50.0%. Base: no label.');
  });

  it('summarizes both verdicts in words, regression as values', () => {
    assert.equal(summarize(run, trained, base), 'Trained: pos (88.0%). Base: neg (50.0%).');
    const reg = { labels: [], task: 'regression' as const };
    assert.equal(summarize(reg, { score: 4.25, truncated: true }, { score: -0.5, truncated: true }), 'Trained: 4.25. Base: -0.5. The text was longer than the model accepts and was cut.');
  });

  it('draws only the answer to the latest request', () => {
    const r = new Requests();
    const a = r.issue();
    const b = r.issue();
    assert.equal(r.isCurrent(a), false);
    assert.equal(r.isCurrent(b), true);
    r.reset();
    assert.equal(r.isCurrent(b), false, 'answers for a run no longer shown are dropped');
  });

  it('Enter and Ctrl/Cmd+Enter submit; Shift+Enter and IME composition do not', () => {
    const k = (over: Partial<Parameters<typeof shouldSubmit>[0]>) => shouldSubmit({ key: 'Enter', shiftKey: false, ctrlKey: false, metaKey: false, ...over });
    assert.equal(k({}), true);
    assert.equal(k({ ctrlKey: true }), true);
    assert.equal(k({ metaKey: true, shiftKey: true }), true);
    assert.equal(k({ shiftKey: true }), false);
    assert.equal(k({ isComposing: true }), false);
    assert.equal(k({ key: 'a' }), false);
  });

  it('shows the second text box for pair runs or on request', () => {
    assert.equal(showPairBox({ pair: true }, false), true);
    assert.equal(showPairBox({ pair: false }, false), false);
    assert.equal(showPairBox({ pair: false }, true), true);
    assert.equal(showPairBox(undefined, false), false);
  });

  it('accepts well-formed host messages only', () => {
    assert.equal(isPlaygroundMessage({ v: 1, kind: 'playground/didPredict', requestId: 1, runId: 'r', trained, base, ms: { trained: 1, base: 1, total: 3 } }), true);
    assert.equal(isPlaygroundMessage({ v: 1, kind: 'playground/didPredict', requestId: 1, runId: 'r', trained: {}, base, ms: {} }), false);
    assert.equal(isPlaygroundMessage({ v: 1, kind: 'playground/didOpenRun', run: { runId: 'r', labels: [], pair: false } }), true);
    assert.equal(isPlaygroundMessage({ v: 2, kind: 'playground/didFail', message: 'x' }), false);
    assert.equal(isPlaygroundMessage({ v: 1, kind: 'dashboard/didChangeState' }), false);
    assert.equal(isPlaygroundMessage(null), false);
  });
});

describe('playground: one base, many task runs', () => {
  const r = (runId: string, baseKey: string | undefined, task: string) => ({ runId, label: runId, status: 'finished' as const, baseKey, base: baseKey?.split('/').at(-1), task, method: 'Houlsby' });
  const runs = [r('a', '/m/bert', 'sentiment'), r('b', '/m/other', 'sentiment'), r('c', '/m/bert', 'topics'), r('d', undefined, 'x')];

  it("lists the task runs of the active run's base, in order", () => {
    assert.deepEqual(sameBaseRuns(runs, 'c').map((x) => x.runId), ['a', 'c']);
    assert.deepEqual(sameBaseRuns(runs, 'b').map((x) => x.runId), ['b']);
    assert.deepEqual(sameBaseRuns(runs, 'd').map((x) => x.runId), ['d'], 'a run without a base is alone');
    assert.deepEqual(sameBaseRuns(runs, 'zz'), []);
  });

  it('says which base and task is active', () => {
    assert.equal(activeBaseText(runs[2]), 'base bert · task topics · Houlsby');
    assert.equal(activeBaseText(undefined), '');
    assert.equal(taskOptionText({ ...runs[0]!, metric: 'accuracy 0.900' }), 'sentiment — Houlsby, finished, accuracy 0.900');
  });
});
