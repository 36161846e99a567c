import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyEvent, emptyRunView } from '../../../protocol/webview';
import { compactRun, compactSnapshot, thinIndices } from './persist';
import { syntheticRun } from './test-fixtures';

describe('persisted state', () => {
  it('thins indices evenly, keeping first and last', () => {
    assert.deepEqual(thinIndices(3, 5), [0, 1, 2]);
    assert.deepEqual(thinIndices(11, 3), [0, 5, 10]);
    assert.deepEqual(thinIndices(10, 4), [0, 3, 6, 9]);
  });

  it('bounds a long run and keeps its columns aligned', () => {
    const v = emptyRunView('r', 'R', 'queued');
    for (const e of syntheticRun('r', { steps: 1000, evalEvery: 100, biasEvery: 10 })) applyEvent(v, e);
    const c = compactRun(v, 50, 5);
    for (const col of Object.values(c.steps)) assert.equal(col.length, 50);
    assert.equal(c.steps.step.at(-1), 1000);
    assert.equal(c.steps.loss[10], v.steps.loss[c.steps.step[10]! - 1]);
    assert.equal(c.evals.length, 10);
    assert.deepEqual(c.changes.map((b) => b.step), [10, 260, 510, 750, 1000]);
    assert.equal(v.steps.step.length, 1000, 'the live view is not touched');
  });

  it('keeps the snapshot’s timestamp and selection', () => {
    const s = compactSnapshot({ timestamp: 42, selected: ['r'], runs: [emptyRunView('r', 'R', 'running')] });
    assert.equal(s.timestamp, 42);
    assert.deepEqual(s.selected, ['r']);
  });
});
