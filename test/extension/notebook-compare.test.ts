/** Run summaries for cell outputs, and comparing cells' runs. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../engine/protocol/events';
import { buildComparison, diffConfigs, flatten } from '../../extension/src/notebook/compare';
import { decimateIndices, MAX_POINTS, summarizeRun, type RunOutput } from '../../protocol/notebook-output';
import { rerunCellText, starterNotebook } from '../../extension/src/notebook/starter';
import { parseCell, resolveCell } from '../../extension/src/notebook/cells';
import { validateConfig } from '../../extension/src/notebook/schema';
import { applyEvent, emptyRunView } from '../../protocol/webview';

describe('config diff', () => {
  it('lists only the keys that differ, one value per run', () => {
    const r = diffConfigs([
      { model: 'm', train_file: 't', learning_rate: 0.001, bias_terms: ['all'] },
      { model: 'm', train_file: 't', learning_rate: 0.004, bias_terms: ['all'] },
      { model: 'm', train_file: 't', learning_rate: 0.001, bias_terms: ['sparse'] },
    ]);
    assert.deepEqual(r.diff, [
      { key: 'bias_terms', values: ['[all]', '[all]', '[sparse]'] },
      { key: 'learning_rate', values: ['0.001', '0.004', '0.001'] },
    ]);
    assert.ok(r.sameCount > 10, 'defaults count as identical keys');
  });

  it('treats an absent key and its default as the same, and ignores names', () => {
    const r = diffConfigs([{ model: 'm', run_name: 'a' }, { model: 'm', learning_rate: 0.001, run_name: 'b' }]);
    assert.deepEqual(r.diff, []);
  });

  it('diffs nested keys by dotted path and shows absent values as a dash', () => {
    assert.deepEqual(flatten({ a: { b: 1, c: { d: 2 } }, e: [1] }), { 'a.b': 1, 'a.c.d': 2, e: [1] });
    const r = diffConfigs([{ x: { y: 1, z: 2 } }, { x: { y: 1 } }]);
    assert.deepEqual(r.diff, [{ key: 'x.z', values: ['2', '–'] }]);
  });

  it('builds a comparison with final metrics (or the last eval for a stopped run)', () => {
    const out = (label: string, lr: number, extra: Partial<RunOutput>): RunOutput => ({ v: 1, kind: 'run', runId: `r-${label}`, label, status: 'finished', config: { model: 'm', learning_rate: lr }, step: 3, loss: { step: [1, 2, 3], value: [1, 0.8, 0.5] }, evals: [], ...extra });
    const c = buildComparison([
      { cellId: 'a', output: out('a', 0.001, { finalMetrics: { accuracy: 0.8 } }) },
      { cellId: 'b', output: out('b', 0.004, { status: 'stopped', evals: [{ step: 2, loss: 0.6, metrics: { accuracy: 0.7, f1: 0.6 } }] }) },
    ]);
    assert.deepEqual(c.diff, [{ key: 'learning_rate', values: ['0.001', '0.004'] }]);
    assert.deepEqual(c.runs.map((r) => r.finalMetrics), [{ accuracy: 0.8 }, { accuracy: 0.7, f1: 0.6 }]);
    assert.deepEqual(c.metrics, ['accuracy', 'f1']);
  });
});

describe('run summaries', () => {
  it('decimates to at most max indices, keeping the first and the last', () => {
    assert.deepEqual(decimateIndices(5, 10), [0, 1, 2, 3, 4]);
    const d = decimateIndices(1000, 200);
    assert.equal(d.length, 200);
    assert.equal(d[0], 0);
    assert.equal(d.at(-1), 999);
    assert.ok(d.every((x, i) => i === 0 || x > d[i - 1]!), 'strictly increasing');
    assert.deepEqual(decimateIndices(0, 200), []);
  });

  it('summarises a run view: decimated loss, evals, final metrics, last bias matrix', () => {
    const view = emptyRunView('r1', 'all biases', 'queued');
    const events: RunEvent[] = [
      { v: 1, type: 'started', runId: 'r1', time: 't', config: {}, method: 'bitfit', trainable: { count: 10, total: 1000, percent: 1, tensors: [] }, backend: { active: 'cpu', attempts: [] }, data: { train: 1, eval: 1, badRows: 0, task: 'classification', numLabels: 2, id2label: {} }, totalSteps: 500, stepsPerEpoch: 500, heatmap: { rows: ['layer.0'], kinds: ['query'] }, notices: [] },
    ];
    for (let s = 1; s <= 500; s++) events.push({ v: 1, type: 'step', step: s, epoch: s / 500, loss: s === 7 ? NaN : 1 / s, lr: 1e-3, gradNorm: 1, tokensPerSec: 1, time: s });
    events.push({ v: 1, type: 'biasChange', step: 250, cells: [{ name: 'q.bias', row: 'layer.0', kind: 'query', meanAbs: 0.1, relative: 0.2, top: [{ index: 1, delta: 0.3 }] }] });
    events.push({ v: 1, type: 'biasChange', step: 500, cells: [{ name: 'q.bias', row: 'layer.0', kind: 'query', meanAbs: 0.5, relative: null, top: [{ index: 1, delta: 0.9 }] }] });
    events.push({ v: 1, type: 'eval', step: 500, epoch: 1, loss: 0.3, metrics: { accuracy: 0.9 }, primary: 'accuracy', isBest: true, examples: 10, seconds: 1 });
    events.push({ v: 1, type: 'finished', step: 500, time: 't', finalMetrics: { accuracy: 0.9 }, seconds: 12 });
    for (const e of events) applyEvent(view, e);
    const o = summarizeRun(view, { model: 'm' }, 12345);
    assert.equal(o.status, 'finished');
    assert.equal(o.loss.step.length, MAX_POINTS);
    assert.equal(o.loss.step.at(-1), 500);
    assert.ok(!o.loss.step.includes(7), 'non-finite losses are left out');
    assert.ok(o.loss.value.every(Number.isFinite));
    assert.deepEqual(o.finalMetrics, { accuracy: 0.9 });
    assert.equal(o.primary, 'accuracy');
    assert.deepEqual(o.bias, { step: 500, rows: ['layer.0'], kinds: ['query'], cells: [{ name: 'q.bias', row: 'layer.0', kind: 'query', meanAbs: 0.5, relative: null }] });
    assert.equal(o.lastStepTime, 12345);
    assert.equal(o.totalSteps, 500);
    assert.ok(JSON.stringify(o).length < 12_000, `summary is ${JSON.stringify(o).length} bytes`);
  });
});

describe('cells PEFT Studio writes', () => {
  it('starter notebook: three valid run cells, the second and third inheriting', () => {
    let n = 0;
    const nb = starterNotebook({ model: '/ws/models/tiny', trainFile: '/ws/data/train.tsv' }, '/ws', () => `id${n++}`);
    const code = nb.cells.filter((c) => c.kind === 'code').map((c) => parseCell(c.source));
    assert.equal(code.length, 3);
    const resolved = code.map((_, i) => resolveCell(code, i));
    for (const r of resolved) {
      assert.ok(r.ok);
      assert.deepEqual(validateConfig(r.config), []);
    }
    const cfg = resolved.map((r) => (r.ok ? r.config : {}));
    assert.equal(cfg[0]!.model, 'models/tiny');
    assert.deepEqual([cfg[0]!.learning_rate, cfg[1]!.learning_rate], [0.001, 0.004]);
    assert.deepEqual(cfg[1]!.bias_terms, ['all']);
    assert.deepEqual(cfg[2]!.bias_terms, ['sparse']);
  });

  it('re-run cell: the run config minus defaults and host keys, paths relative to the notebook', () => {
    const text = rerunCellText({ model: '/ws/tiny', train_file: '/ws/data/t.tsv', learning_rate: 0.002, num_train_epochs: 3, output_dir: '/ws/.peft-studio/runs/x', runs_dir: '/ws/runs', bias_terms: ['query', 'intermediate'] }, 'run a', 'x', '/ws');
    const c = parseCell(text);
    assert.deepEqual(c.config, { model: 'tiny', train_file: 'data/t.tsv', learning_rate: 0.002, bias_terms: ['query', 'intermediate'] });
    assert.match(text, /^# Re-run of "run a" \(x\)/);
    assert.match(text, /bias_terms: \[query, intermediate\]/);
  });
});
