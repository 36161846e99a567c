import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunOutput } from '../../../protocol/notebook-output';
import { componentLines, heatGridOf, lossPoints, methodOf, metricRows, parseCompareOutput, parseRunOutput, progressText, teacherScore } from './model';

const output = (extra: Partial<RunOutput> = {}): RunOutput => ({
  v: 1,
  kind: 'run',
  runId: 'r1',
  label: 'all biases',
  status: 'finished',
  config: { model: 'm' },
  step: 54,
  totalSteps: 54,
  loss: { step: [1, 2, 3, 4], value: [1, 0.5, NaN, 0.25] },
  evals: [{ step: 54, loss: 0.3, metrics: { accuracy: 0.8, f1: 0.7 } }],
  primary: 'accuracy',
  bias: {
    step: 50,
    rows: ['embeddings', 'layer.0', 'pooler', 'classifier'],
    kinds: ['query', 'intermediate', 'output', 'output.LayerNorm'],
    cells: [
      { name: 'bert.encoder.layer.0.attention.self.query.bias', row: 'layer.0', kind: 'query', meanAbs: 0.02, relative: 0.1 },
      { name: 'bert.embeddings.LayerNorm.bias', row: 'embeddings', kind: 'embeddings.LayerNorm', meanAbs: 0.01, relative: 0.1 },
      { name: 'classifier.bias', row: 'classifier', kind: 'head', meanAbs: 0.05, relative: null },
      { name: 'bert.encoder.layer.0.intermediate.dense.bias', row: 'layer.0', kind: 'intermediate', meanAbs: 0, relative: 0 },
    ],
  },
  ...extra,
});

describe('notebook renderer data', () => {
  it('accepts a host-made output and rejects malformed ones with a reason', () => {
    assert.equal(typeof parseRunOutput(output()), 'object');
    const bad: unknown[] = [
      null,
      { ...output(), v: 2 },
      { ...output(), status: 'exploded' },
      { ...output(), loss: { step: [1, 2], value: [1] } },
      { ...output(), loss: { step: ['1'], value: [1] } },
      { ...output(), evals: [{ step: 1, loss: 1, metrics: { accuracy: '0.9' } }] },
      { ...output(), bias: { ...output().bias, cells: [{ name: 'x' }] } },
      { ...output(), config: undefined },
    ];
    for (const b of bad) assert.equal(typeof parseRunOutput(b), 'string', JSON.stringify(b));
  });

  it('maps the loss series to points, leaving non-finite values out', () => {
    const { raw, smoothed } = lossPoints(output().loss, 0);
    assert.deepEqual(raw, [{ x: 1, y: 1 }, { x: 2, y: 0.5 }, { x: 4, y: 0.25 }]);
    assert.deepEqual(smoothed, raw, 'weight 0 is no smoothing');
    const s = lossPoints(output().loss, 0.9).smoothed;
    assert.ok(s[2]!.y > 0.25, 'smoothing lags a falling loss');
  });

  it('lays an older output\'s bias matrix out like the dashboard heatmap (embeddings LN under output.LayerNorm, head under output)', () => {
    const h = heatGridOf(output())!;
    assert.deepEqual(h.grid.rows, ['embeddings', 'layer.0', 'pooler', 'classifier']);
    const at = (row: string, kind: string) => h.grid.cells[h.grid.rows.indexOf(row)]![h.grid.kinds.indexOf(kind)]!.value;
    assert.equal(at('layer.0', 'query'), 0.02);
    assert.equal(at('embeddings', 'output.LayerNorm'), 0.01);
    assert.equal(at('classifier', 'output'), 0.05);
    assert.equal(at('pooler', 'query'), null);
    assert.equal(h.max, 0.05);
    assert.equal(h.nonZero, 3, 'a zero change is not a non-zero cell');
    assert.equal(h.measure, 'mean |Δb|');
    assert.equal(heatGridOf(output({ bias: undefined })), undefined);
  });

  it("draws a LoRA output's what-moved matrix in its own columns and measure, and names the method", () => {
    const lora = output({
      bias: undefined,
      config: { model: 'm', method: 'lora', lora_r: 4 },
      change: {
        step: 9,
        measure: '‖ΔW‖F / ‖W‖F',
        rows: ['embeddings', 'layer.0', 'classifier'],
        kinds: ['query', 'value'],
        cells: [
          { name: 'bert.encoder.layer.0.attention.self.query', row: 'layer.0', kind: 'query', value: 0.004, relative: 0.004 },
          { name: 'bert.encoder.layer.0.attention.self.value', row: 'layer.0', kind: 'value', value: 0.006, relative: 0.006 },
        ],
      },
    });
    assert.equal(typeof parseRunOutput(lora), 'object');
    const h = heatGridOf(lora)!;
    assert.deepEqual(h.grid.kinds, ['query', 'value']);
    assert.equal(h.measure, '‖ΔW‖F / ‖W‖F');
    assert.equal(h.max, 0.006);
    assert.equal(h.nonZero, 2);
    assert.equal(methodOf(lora), 'LoRA r=4 lora_alpha=8 query+value', 'an output without a method line: from its config');
    assert.equal(methodOf({ ...lora, method: 'LoRA r=2' }), 'LoRA r=2');
    assert.equal(typeof parseRunOutput({ ...lora, change: { ...lora.change, measure: undefined } }), 'string');
    assert.equal(typeof parseRunOutput({ ...lora, method: 3 }), 'string');
  });

  it('lists metrics with the primary first, from the final metrics when there are some', () => {
    assert.deepEqual(metricRows(output()).map((r) => r.name), ['accuracy', 'f1']);
    assert.deepEqual(metricRows(output({ finalMetrics: { mcc: 0.5, accuracy: 0.9 } })), [
      { name: 'accuracy', value: 0.9, primary: true },
      { name: 'mcc', value: 0.5, primary: false },
    ]);
    assert.deepEqual(metricRows(output({ evals: [] })), []);
  });

  it('says how far a run got', () => {
    assert.equal(progressText({ step: 27, totalSteps: 54 }), 'step 27 / 54 · 50%');
    assert.equal(progressText({ step: 0 }), '');
  });

  it('checks comparisons: one value per run in every diff row', () => {
    const run = { cellId: 'a', label: 'a', runId: 'r', status: 'finished', loss: { step: [1], value: [1] }, finalMetrics: {} };
    const ok = { v: 1, kind: 'compare', runs: [run, run], diff: [{ key: 'learning_rate', values: ['0.001', '0.004'] }], sameCount: 3, metrics: [] };
    assert.equal(typeof parseCompareOutput(ok), 'object');
    assert.equal(typeof parseCompareOutput({ ...ok, diff: [{ key: 'x', values: ['1'] }] }), 'string');
    assert.equal(typeof parseCompareOutput({ ...ok, runs: [{ ...run, loss: null }] }), 'string');
  });
});

describe('notebook output of a distillation run', () => {
  it('carries the loss parts at the kept steps, the teacher and its table; the renderer draws them', async () => {
    const { applyEvent, emptyRunView, DISTILL_SUMMARY_HEAD } = await import('../../../protocol/webview');
    const { summarizeRun, MAX_POINTS } = await import('../../../protocol/notebook-output');
    const { syntheticRun } = await import('../shared/test-fixtures');
    const v = emptyRunView('d', 'D', 'queued');
    const started = syntheticRun('d', { steps: 0, totalSteps: 500 })[0]!;
    applyEvent(v, { ...(started as Extract<typeof started, { type: 'started' }>), distill: { teacher: '/runs/t', teacherMetrics: { accuracy: 0.9, f1: 0.8 }, temperature: 2, alpha_kd: 0.5, alpha_task: 0.5, alpha_cos: 0 } });
    for (let s = 1; s <= 500; s++) applyEvent(v, { v: 1, type: 'step', step: s, epoch: 0, loss: 1 / s, lr: 0, gradNorm: 0, tokensPerSec: 0, time: s, components: { kd: 2 / s, task: s === 500 ? NaN : 3 / s } });
    applyEvent(v, { v: 1, type: 'log', level: 'info', message: `${DISTILL_SUMMARY_HEAD}\n  accuracy 0.9 → 0.8`, time: '' });
    const o = summarizeRun(v, {});
    assert.equal(o.loss.step.length, MAX_POINTS);
    assert.equal(o.components!.kd!.length, MAX_POINTS);
    o.loss.step.forEach((s, i) => assert.equal(o.components!.kd![i], 2 / s));
    assert.deepEqual(o.teacher, { label: '/runs/t', metrics: { accuracy: 0.9, f1: 0.8 } });
    assert.match(o.distillSummary!, /accuracy 0.9 → 0.8/);
    const parsed = parseRunOutput(JSON.parse(JSON.stringify(o)));
    assert.ok(typeof parsed !== 'string');
    const lines = componentLines(o);
    assert.deepEqual(lines.map((l) => l.name), ['kd', 'task']);
    assert.equal(lines[0]!.points.length, MAX_POINTS);
    assert.equal(lines[1]!.points.length, MAX_POINTS - 1, 'the last task value is NaN');
    assert.deepEqual(teacherScore({ ...o, primary: 'f1' }), { name: 'f1', value: 0.8 });
    assert.deepEqual(teacherScore({ teacher: o.teacher, primary: 'mcc' }), { name: 'accuracy', value: 0.9 });
    assert.equal(teacherScore({ primary: 'accuracy' }), undefined);
  });
});
