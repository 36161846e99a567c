/** Host↔webview protocol: what the host accepts from a webview, and how events fold into a run view. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../engine/protocol/events';
import { applyEvent, emptyRunView } from '../../protocol/webview';
import { defaultLearningRate, methodLabel, methodOfConfig, runMethodLabel, withSettingDefaults } from '../../protocol/method';
import { parseStudyMessage, parseWebviewMessage } from '../../extension/src/protocol-validate';

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

const started = (resumedFrom?: { step: number; path: string }): RunEvent =>
  ({ v: 1, type: 'started', runId: 'r', time: '', config: {}, method: 'bitfit', trainable: { count: 1, total: 2, percent: 50, tensors: [] }, backend: { active: 'cpu', attempts: [] }, data: { train: 1, eval: 0, badRows: 0, task: 'classification', numLabels: 2, id2label: {} }, totalSteps: 4, stepsPerEpoch: 4, heatmap: { rows: [], kinds: [] }, notices: [], resumedFrom }) as RunEvent;

describe('study tab messages are validated before the host acts', () => {
  it('accepts ready and opening the report files', () => {
    assert.equal(parseStudyMessage({ v: 1, kind: 'study/ready' }).ok, true);
    assert.equal(parseStudyMessage({ v: 1, kind: 'study/openReportFile', file: 'results.csv' }).ok, true);
  });
  it('rejects another version, a dashboard message, and any other file (the webview never names paths)', () => {
    for (const m of [{ v: 2, kind: 'study/ready' }, { v: 1, kind: 'dashboard/ready' }, { v: 1, kind: 'study/openReportFile', file: '../../etc/passwd' }, { v: 1, kind: 'study/openReportFile' }, null]) {
      assert.equal(parseStudyMessage(m).ok, false, JSON.stringify(m));
    }
  });
});

describe('applyEvent', () => {
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

describe('applyEvent: what-moved reports', () => {
  const loraCell = { name: 'bert.encoder.layer.0.attention.self.query', row: 'layer.0', kind: 'query', value: 0.02, relative: 0.02, top: [{ index: 3, delta: 0.5 }], details: [{ title: 'singular values of ΔW', items: [{ label: 'σ1', value: 0.4 }] }] };

  it('keeps change events as they come', () => {
    const v = emptyRunView('r', 'r', 'running');
    applyEvent(v, { v: 1, type: 'change', step: 5, measure: '‖ΔW‖F / ‖W‖F', cells: [loraCell] });
    assert.equal(v.changes.length, 1);
    assert.equal(v.changes[0]!.measure, '‖ΔW‖F / ‖W‖F');
    assert.deepEqual(v.changes[0]!.cells[0]!.details, loraCell.details);
  });

  it("reads an older run's biasChange events as change events in BitFit's measure", () => {
    const v = emptyRunView('r', 'r', 'running');
    applyEvent(v, { v: 1, type: 'biasChange', step: 10, cells: [{ name: 'q.bias', row: 'layer.0', kind: 'query', meanAbs: 0.25, relative: null, top: [] }] });
    assert.equal(v.changes[0]!.type, 'change');
    assert.equal(v.changes[0]!.measure, 'mean |Δb|');
    assert.equal(v.changes[0]!.cells[0]!.value, 0.25);
    assert.equal(v.changes[0]!.cells[0]!.meanAbs, 0.25);
  });

  it('a resumed run drops change reports after its checkpoint', () => {
    const v = emptyRunView('r', 'r', 'queued');
    applyEvent(v, started());
    for (const s of [2, 4]) applyEvent(v, { v: 1, type: 'change', step: s, measure: 'm', cells: [] });
    applyEvent(v, started({ step: 2, path: 'ckpt' }));
    assert.deepEqual(v.changes.map((c) => c.step), [2]);
  });
});

describe('method labels', () => {
  it("reads today's method object, top-level setting keys over it, and an older run's flat BitFit keys", () => {
    assert.deepEqual(methodOfConfig({ method: { name: 'lora', r: 16 } }), { name: 'lora', r: 16 });
    assert.deepEqual(methodOfConfig({ method: { name: 'lora', r: 16 }, lora_r: 4 }), { name: 'lora', r: 4 });
    assert.deepEqual(methodOfConfig({ method: 'bitfit', bias_terms: ['sparse'], train_head: false }), { name: 'bitfit', bias_terms: ['sparse'], train_head: false });
    assert.deepEqual(methodOfConfig({}), { name: 'bitfit' }, 'a config without a method trains the default');
  });

  it('short: the title and the first asked setting; long: every asked setting and any off its default', () => {
    assert.equal(methodLabel({ name: 'lora', r: 8 }), 'LoRA r=8');
    assert.equal(methodLabel({ name: 'lora', r: 16, lora_alpha: 32, target_modules: ['query', 'key', 'value'] }, 'long'), 'LoRA r=16 lora_alpha=32 query+key+value');
    assert.equal(methodLabel({ name: 'lora', r: 8, use_rslora: true }, 'long'), 'LoRA r=8 lora_alpha=8 query+value use_rslora=true');
    assert.equal(methodLabel({ name: 'bitfit' }), 'BitFit all');
    assert.equal(methodLabel({ name: 'bitfit', bias_terms: ['sparse'], train_head: false }, 'long'), 'BitFit sparse train_head=false');
    assert.equal(methodLabel({ name: 'full' }, 'long'), 'Full fine-tuning');
    assert.equal(methodLabel({ name: 'not-a-method' }), 'not-a-method');
  });

  it("prefers the started event's resolved config over the config as asked", () => {
    const view = { started: { config: { method: { name: 'lora', r: 4, lora_alpha: 8 } } } };
    assert.equal(runMethodLabel({ view, config: { method: 'lora' } }), 'LoRA r=4');
    assert.equal(runMethodLabel({ view: {}, config: { method: 'lora', lora_r: 2 } }), 'LoRA r=2');
    assert.equal(runMethodLabel({ view: { started: { config: { method: { name: 'lora', r: 4 }, distill: { teacher: '/t' } } } } }), 'LoRA r=4 (distilled)');
    assert.equal(runMethodLabel({ view: {}, config: { method: { name: 'distill', teacher: '/t', student_method: 'bitfit' } } }), 'BitFit all (distilled)');
  });

  it('fills every setting default, and offers a learning rate per method', () => {
    assert.deepEqual(Object.keys(withSettingDefaults({ name: 'bitfit' })), ['name', 'bias_terms', 'train_head']);
    assert.equal(defaultLearningRate('full'), 2e-5);
    assert.equal(defaultLearningRate('bitfit'), 1e-3);
    assert.equal(defaultLearningRate('lora'), 5e-4);
    assert.equal(defaultLearningRate('prompt_tuning'), 1e-2);
    assert.equal(defaultLearningRate('some_adapter'), 1e-3);
  });
});
