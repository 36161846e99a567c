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
      { key: 'learning_rate', values: ['0.001', '0.004', '0.001'] },
      { key: 'method.bias_terms', values: ['[all]', '[all]', '[sparse]'] },
    ]);
    assert.ok(r.sameCount > 10, 'defaults count as identical keys');
  });

  it('compares methods setting by setting, however each cell wrote its method', () => {
    const r = diffConfigs([
      { model: 'm', method: 'bitfit', learning_rate: 0.001 },
      { model: 'm', method: 'lora', lora_r: 16, learning_rate: 0.0005 },
      { model: 'm', method: { name: 'lora', r: 16 }, learning_rate: 0.0005 },
    ]);
    const row = (key: string) => r.diff.find((d) => d.key === key)?.values;
    assert.deepEqual(row('method.name'), ['bitfit', 'lora', 'lora']);
    assert.deepEqual(row('method.r'), ['–', '16', '16'], 'lora_r: 16 and { r: 16 } are the same setting');
    assert.equal(row('method.bias_terms'), undefined, 'settings every run leaves at their default say nothing the method row does not');
    assert.equal(row('method.target_modules'), undefined);
    assert.equal(row('lora_r'), undefined, 'top-level setting keys are folded into method.*');
    const sparse = diffConfigs([{ model: 'm', method: 'bitfit', bias_terms: ['sparse'] }, { model: 'm', method: 'lora' }]);
    assert.deepEqual(sparse.diff.find((d) => d.key === 'method.bias_terms')?.values, ['[sparse]', '–'], 'a setting one run chose is listed');
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
    assert.deepEqual(c.runs.map((r) => r.method), ['BitFit all', 'BitFit all'], 'outputs saved without a method line get one from their config');
  });

  it('a comparison names each run\'s method (BitFit vs LoRA)', () => {
    const out = (label: string, config: Record<string, unknown>, method?: string): RunOutput => ({ v: 1, kind: 'run', runId: `r-${label}`, label, status: 'finished', config, ...(method ? { method } : {}), step: 1, loss: { step: [1], value: [1] }, evals: [] });
    const c = buildComparison([
      { cellId: 'a', output: out('a', { model: 'm', method: 'bitfit' }) },
      { cellId: 'b', output: out('b', { model: 'm', method: 'lora', lora_r: 4 }, 'LoRA r=4 lora_alpha=8 query+value') },
    ]);
    assert.deepEqual(c.runs.map((r) => r.method), ['BitFit all', 'LoRA r=4 lora_alpha=8 query+value']);
    assert.ok(c.diff.some((d) => d.key === 'method.name'));
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

  it('summarises a run view: decimated loss, evals, final metrics, last what-moved matrix (older biasChange events too)', () => {
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
    assert.deepEqual(o.change, { step: 500, measure: 'mean |Δb|', rows: ['layer.0'], kinds: ['query'], cells: [{ name: 'q.bias', row: 'layer.0', kind: 'query', value: 0.5, relative: null }] });
    assert.equal(o.bias, undefined, 'the older matrix is read, never written');
    assert.equal(o.method, 'BitFit all');
    assert.equal(o.lastStepTime, 12345);
    assert.equal(o.totalSteps, 500);
    assert.ok(JSON.stringify(o).length < 12_000, `summary is ${JSON.stringify(o).length} bytes`);
  });

  it('summarises a LoRA run: its measure, columns and method line from the started event', () => {
    const view = emptyRunView('r2', 'lora', 'queued');
    applyEvent(view, { v: 1, type: 'started', runId: 'r2', time: 't', config: { method: { name: 'lora', r: 4, lora_alpha: 8, target_modules: ['query', 'value'] } }, method: 'lora', trainable: { count: 10, total: 1000, percent: 1, tensors: [] }, backend: { active: 'cpu', attempts: [] }, data: { train: 1, eval: 1, badRows: 0, task: 'classification', numLabels: 2, id2label: {} }, totalSteps: 2, stepsPerEpoch: 2, heatmap: { rows: ['layer.0'], kinds: ['query', 'value'], measure: '‖ΔW‖F / ‖W‖F' }, notices: [] });
    applyEvent(view, { v: 1, type: 'change', step: 2, measure: '‖ΔW‖F / ‖W‖F', cells: [{ name: 'bert.encoder.layer.0.attention.self.value', row: 'layer.0', kind: 'value', value: 0.01, relative: 0.01, top: [], details: [{ title: 'singular values of ΔW', items: [{ label: 'σ1', value: 1 }] }] }] });
    const o = summarizeRun(view, { method: 'lora' });
    assert.equal(o.method, 'LoRA r=4 lora_alpha=8 query+value');
    assert.equal(o.change?.measure, '‖ΔW‖F / ‖W‖F');
    assert.deepEqual(o.change?.kinds, ['query', 'value']);
    assert.deepEqual(Object.keys(o.change!.cells[0]!).sort(), ['kind', 'name', 'relative', 'row', 'value'], 'no unit or detail lists in a cell output');
  });
});

describe('cells PEFT Studio writes', () => {
  it('starter notebook: full fine-tuning, BitFit and LoRA on the same model and data, then a comparison', () => {
    let n = 0;
    const nb = starterNotebook({ model: '/ws/models/tiny', trainFile: '/ws/data/train.tsv' }, '/ws', () => `id${n++}`);
    const code = nb.cells.filter((c) => c.kind === 'code').map((c) => parseCell(c.source));
    assert.deepEqual(code.map((c) => c.kind), ['run', 'run', 'run', 'compare']);
    assert.equal(code[3]!.compare, 'all');
    const resolved = code.slice(0, 3).map((_, i) => resolveCell(code, i));
    for (const r of resolved) {
      assert.ok(r.ok);
      assert.deepEqual(validateConfig(r.config), []);
    }
    const cfg = resolved.map((r) => (r.ok ? r.config : {}));
    assert.deepEqual(cfg.map((c) => c.method), ['full', 'bitfit', 'lora']);
    assert.deepEqual(cfg.map((c) => c.learning_rate), [2e-5, 1e-3, 5e-4]);
    assert.deepEqual(cfg.map((c) => c.model), ['models/tiny', 'models/tiny', 'models/tiny']);
    assert.deepEqual(cfg.map((c) => c.train_file), ['data/train.tsv', 'data/train.tsv', 'data/train.tsv']);
    assert.deepEqual(cfg[1]!.bias_terms, ['all']);
    assert.equal(cfg[2]!.bias_terms, undefined, "the LoRA cell leaves BitFit's settings behind");
    assert.deepEqual([cfg[2]!.lora_r, cfg[2]!.target_modules], [8, ['query', 'value']]);
  });

  it('re-run cell: the run config minus defaults and host keys, paths relative to the notebook', () => {
    const text = rerunCellText({ model: '/ws/tiny', train_file: '/ws/data/t.tsv', learning_rate: 0.002, num_train_epochs: 3, output_dir: '/ws/.peft-studio/runs/x', runs_dir: '/ws/runs', bias_terms: ['query', 'intermediate'] }, 'run a', 'x', '/ws');
    const c = parseCell(text);
    assert.deepEqual(c.config, { model: 'tiny', train_file: 'data/t.tsv', learning_rate: 0.002, method: 'bitfit', bias_terms: ['query', 'intermediate'] });
    assert.match(text, /^# Re-run of "run a" \(x\)/);
    assert.match(text, /bias_terms: \[query, intermediate\]/);
  });

  it("re-run cell of a LoRA run: the method object becomes method: lora and the settings off their defaults", () => {
    const text = rerunCellText({ model: '/ws/tiny', train_file: '/ws/t.tsv', method: { name: 'lora', r: 16, lora_alpha: 8, target_modules: ['query', 'value'], lora_dropout: 0.1 } }, 'l', 'x', '/ws');
    const c = parseCell(text);
    assert.deepEqual(c.config, { model: 'tiny', train_file: 't.tsv', method: 'lora', lora_r: 16, lora_dropout: 0.1 });
    assert.deepEqual(validateConfig(c.config), []);
  });
});
