/** Host↔webview protocol: what the host accepts from a webview, and how events fold into a run view. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../engine/protocol/events';
import { applyEvent, emptyRunView } from '../../protocol/webview';
import { parseWebviewMessage } from '../../extension/src/protocol-validate';

describe('webview messages are validated before the host acts', () => {
  const accepted = [
    { v: 1, kind: 'dashboard/ready' },
    { v: 1, kind: 'run/stop', runId: '20261123-001502-bitfit-sst2-a1b2' },
    { v: 1, kind: 'dashboard/select', runIds: ['a', 'b'] },
  ];
  for (const m of accepted) it(`accepts ${m.kind}`, () => assert.equal(parseWebviewMessage(m).ok, true));

  const rejected: Array<[string, unknown]> = [
    ['a path as run id', { v: 1, kind: 'run/stop', runId: '../../etc' }],
    ['an absolute path as run id', { v: 1, kind: 'run/pause', runId: '/tmp/run' }],
    ['an unknown kind', { v: 1, kind: 'run/delete', runId: 'a' }],
    ['another protocol version', { v: 2, kind: 'dashboard/ready' }],
    ['a missing run id', { v: 1, kind: 'run/resume' }],
    ['too many selections', { v: 1, kind: 'dashboard/select', runIds: Array.from({ length: 17 }, (_, i) => `r${i}`) }],
    ['not an object', 'dashboard/ready'],
    ['null', null],
  ];
  for (const [name, m] of rejected) {
    it(`rejects ${name}`, () => {
      const r = parseWebviewMessage(m);
      assert.equal(r.ok, false);
      if (!r.ok) assert.ok(r.reason.length > 0);
    });
  }
});

describe('applyEvent', () => {
  const started = (resumedFrom?: { step: number; path: string }): RunEvent =>
    ({ v: 1, type: 'started', runId: 'r', time: '', config: {}, method: 'bitfit', trainable: { count: 1, total: 2, percent: 50, tensors: [] }, backend: { active: 'cpu', attempts: [] }, data: { train: 1, eval: 0, badRows: 0, task: 'classification', numLabels: 2, id2label: {} }, totalSteps: 4, stepsPerEpoch: 4, heatmap: { rows: [], kinds: [] }, notices: [], resumedFrom }) as RunEvent;
  const step = (s: number): RunEvent => ({ v: 1, type: 'step', step: s, epoch: s / 4, loss: 1 / s, lr: 1e-3, gradNorm: 1, tokensPerSec: 10, time: s });

  it('collects steps column-wise and ends with the final event', () => {
    const v = emptyRunView('r', 'r', 'queued');
    for (const e of [started(), step(1), step(2), { v: 1, type: 'finished', step: 2, time: '', seconds: 1 } as RunEvent]) applyEvent(v, e);
    assert.deepEqual(v.steps.step, [1, 2]);
    assert.deepEqual(v.steps.loss, [1, 0.5]);
    assert.equal(v.status, 'finished');
  });

  it('a resumed run drops what was recorded after its checkpoint, so curves do not double back', () => {
    const v = emptyRunView('r', 'r', 'queued');
    for (const e of [started(), step(1), step(2), step(3), { v: 1, type: 'stopped', step: 3, time: '', seconds: 1 } as RunEvent]) applyEvent(v, e);
    applyEvent(v, started({ step: 2, path: 'ckpt' }));
    assert.deepEqual(v.steps.step, [1, 2]);
    assert.equal(v.status, 'running');
    assert.equal(v.end, undefined);
    applyEvent(v, step(3));
    assert.deepEqual(v.steps.step, [1, 2, 3]);
  });
});
