import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { emptyRunView, type RunView } from '../../../protocol/webview';
import { RunStore } from './store';
import { started, syntheticRun } from './test-fixtures';

const snapshot = (timestamp: number, runs: RunView[], selected: string[]) => ({ v: 1, kind: 'dashboard/didChangeState', timestamp, runs, selected });
const append = (runId: string, events: unknown[]) => ({ v: 1, kind: 'run/didAppendEvents', runId, events });

describe('RunStore', () => {
  it('replaces on a snapshot and ignores an older one', () => {
    const s = new RunStore();
    assert.ok(s.apply(snapshot(2, [emptyRunView('a', 'A', 'running')], ['a'])));
    assert.equal(s.apply(snapshot(1, [], [])), false);
    assert.deepEqual(s.snapshot.runs.map((r) => r.runId), ['a']);
  });

  it('upgrades a state saved by an older dashboard (biasChanges) to change events', () => {
    const s = new RunStore();
    const old = { ...emptyRunView('a', 'A', 'finished'), changes: undefined, biasChanges: [{ v: 1, type: 'biasChange', step: 3, cells: [{ name: 'q.bias', row: 'layer.0', kind: 'query', meanAbs: 0.5, relative: null, top: [] }] }] };
    s.replace({ timestamp: 1, runs: [old as unknown as RunView], selected: ['a'] });
    const run = s.run('a')!;
    assert.equal(run.changes.length, 1);
    assert.equal(run.changes[0]!.cells[0]!.value, 0.5);
    assert.equal('biasChanges' in run, false);
  });

  it('folds appended events with applyEvent', () => {
    const s = new RunStore();
    s.apply(snapshot(1, [emptyRunView('a', 'A', 'queued')], ['a']));
    assert.ok(s.apply(append('a', syntheticRun('a', { steps: 20, evalEvery: 10, biasEvery: 5, legacy: true }))));
    const run = s.run('a')!;
    assert.equal(run.status, 'running');
    assert.equal(run.steps.step.length, 20);
    assert.equal(run.evals.length, 2);
    assert.equal(run.changes.length, 4);
    assert.ok(run.changes.every((c) => c.type === 'change' && c.measure === 'mean |Δb|'), 'older biasChange events are kept as change events');
  });

  it('never applies an event twice when a snapshot already holds the start of a batch', () => {
    const events = syntheticRun('a', { steps: 6, evalEvery: 100, biasEvery: 100 });
    const view = emptyRunView('a', 'A', 'queued');
    const s = new RunStore();
    s.apply(snapshot(1, [view], ['a']));
    s.apply({ ...append('a', events.slice(0, 4)), firstIndex: 0 });
    // The host took a snapshot between flushes: it holds events 0..3; its next batch starts at 2.
    const snap = structuredClone(s.run('a')!);
    s.apply(snapshot(2, [snap], ['a']));
    assert.ok(s.apply({ ...append('a', events.slice(2)), firstIndex: 2 }));
    const run = s.run('a')!;
    assert.deepEqual(run.steps.step, [1, 2, 3, 4, 5, 6]);
    assert.equal(run.applied, events.length);
    assert.equal(s.apply({ ...append('a', events.slice(5)), firstIndex: 5 }), false, 'a replayed batch changes nothing');
  });

  it('keeps events for a run it has not seen, and skips malformed events', () => {
    const s = new RunStore();
    assert.ok(s.apply(append('new', [started('new'), { v: 1, type: 'step' }, { nonsense: true }])));
    assert.equal(s.run('new')!.steps.step.length, 0);
    assert.equal(s.run('new')!.label, 'new');
    assert.equal(s.apply(append('new', [{ v: 2, type: 'step' }])), false);
  });

  it('bumps the generation when columns may be rewritten (snapshot, started), not on appends', () => {
    const s = new RunStore();
    s.apply(snapshot(1, [emptyRunView('a', 'A', 'running')], ['a']));
    const g0 = s.generation('a');
    s.apply(append('a', syntheticRun('a', { steps: 3 }).slice(1)));
    assert.equal(s.generation('a'), g0);
    s.apply(append('a', [{ ...started('a'), resumedFrom: { step: 1, path: 'ckpt' } }]));
    assert.notEqual(s.generation('a'), g0);
    assert.equal(s.run('a')!.steps.step.length, 1);
  });

  it('status changes; unknown messages are ignored', () => {
    const s = new RunStore();
    s.apply(snapshot(1, [emptyRunView('a', 'A', 'running')], ['a']));
    assert.ok(s.apply({ v: 1, kind: 'run/didChangeStatus', runId: 'a', status: 'paused' }));
    assert.equal(s.run('a')!.status, 'paused');
    assert.equal(s.apply({ v: 1, kind: 'run/didChangeStatus', runId: 'a', status: 'exploded' }), false);
    assert.equal(s.apply({ v: 9, kind: 'dashboard/didChangeState' }), false);
    assert.equal(s.apply('hello'), false);
  });

  it('shows the selection, or the newest run when nothing selected exists', () => {
    const s = new RunStore();
    s.apply(snapshot(1, [emptyRunView('a', 'A', 'finished'), emptyRunView('b', 'B', 'running')], ['b', 'a']));
    assert.deepEqual(s.shown().map((r) => r.runId), ['b', 'a']);
    assert.equal(s.focused()!.runId, 'b');
    s.snapshot.selected = ['gone'];
    assert.deepEqual(s.shown().map((r) => r.runId), ['b']);
  });
});
