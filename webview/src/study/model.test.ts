import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StudyOutput, StudyReportModel } from '../../../protocol/study';
import { formatBytes, parseReport, parseStudyOutput, reportSvgs, reportTable } from './model';

const report = (extra: Partial<StudyReportModel> = {}): StudyReportModel => ({
  v: 1,
  name: 'methods',
  metric: 'accuracy',
  axes: ['method', 'seed'],
  counts: { finished: 8, failed: 1 },
  total: 9,
  rows: [
    { axes: { method: 'lora' }, block: '', mean: 0.8123, std: 0.01, n: 3, runs: 3, trainable: 1234, trainablePercent: 0.52, stepSeconds: 0.0123, peakTensorBytes: 3 << 20, exportBytes: 5000, best: true },
    { axes: { method: 'full' }, block: '', mean: 0.8, std: 0.02, n: 3, runs: 3, trainable: 250000, trainablePercent: 100, stepSeconds: 0.2, peakTensorBytes: 9 << 20, exportBytes: 1 << 20, withinNoise: true },
    { axes: { method: 'bitfit' }, block: '', mean: 0.7, n: 2, runs: 3, trainable: 300, trainablePercent: 0.12 },
  ],
  charts: [{ file: 'metric-vs-params.svg', title: 'methods: accuracy vs trainable parameters', xLabel: 'trainable parameters', yLabel: 'accuracy', logX: true, series: [{ name: 'lora', points: [{ x: 1234, y: 0.81, err: 0.01 }] }, { name: 'full', points: [{ x: 250000, y: 0.8, err: 0.02 }] }] }],
  grids: [{ title: 'lora', rows: ['layer.0', 'layer.1'], columns: ['query', 'value'], values: [[0.1, 0.2], [null, 0.4]], measure: '‖ΔW‖' }],
  notFinished: [{ id: 'method-bitfit__seed-2', status: 'failed', reason: 'boom' }],
  ...extra,
});
const output = (extra: Partial<StudyOutput> = {}): StudyOutput => ({ v: 1, kind: 'study', name: 'methods', dir: '/runs/studies/methods', status: 'finished', total: 9, done: 8, failures: [], report: report(), ...extra });

describe('study output model', () => {
  it('accepts a study output and its report', () => {
    assert.equal(typeof parseStudyOutput(output()), 'object');
    assert.equal(typeof parseStudyOutput(output({ report: undefined, status: 'running', current: { id: 'a', index: 0, step: 3, resume: false } })), 'object');
  });

  it('rejects malformed outputs before anything is drawn: a string where the SVG needs a number', () => {
    assert.match(parseStudyOutput({ v: 2, kind: 'study' }) as string, /version 1/);
    assert.match(parseStudyOutput({ ...output(), status: 'exploded' }) as string, /status/);
    const bad = report();
    (bad.charts[0]!.series[0]!.points[0] as unknown as { x: string }).x = '"/><script>alert(1)</script>';
    assert.match(parseReport(bad) as string, /charts/);
    const grid = report();
    (grid.grids[0]!.values[0] as unknown[])[0] = 'x';
    assert.match(parseReport(grid) as string, /grids/);
    const row = report();
    (row.rows[0] as unknown as { mean: string }).mean = '1';
    assert.match(parseReport(row) as string, /rows/);
    assert.match(parseStudyOutput(output({ current: { id: 'a' } as never })) as string, /current run/);
  });

  it('tables the report as report.md does: axes without seed, mean ± std, best and ≈ marks, the costs', () => {
    const t = reportTable(report());
    assert.deepEqual(t.header, ['method', 'accuracy (mean ± std)', 'n', 'trainable', '%', 'step', 'memory', 'trained file']);
    assert.deepEqual(t.rows.map((r) => r[0]!.text), ['lora', 'full', 'bitfit'], 'the report\'s order is kept');
    assert.equal(t.rows[0]![1]!.text, '0.8123 ± 0.0100');
    assert.equal(t.rows[0]![1]!.best, true);
    assert.equal(t.rows[1]![1]!.text, '0.8000 ± 0.0200 ≈');
    assert.equal(t.rows[2]![1]!.text, '0.7000', 'one seed: no std');
    assert.equal(t.rows[2]![2]!.text, '2/3');
    assert.equal(t.rows[1]![3]!.text, '250,000');
    assert.equal(t.rows[0]![4]!.text, '0.520%', 'as report.md writes it');
    assert.equal(t.rows[1]![4]!.text, '100%');
    assert.equal(t.rows[0]![5]!.text, '12.3 ms');
    assert.equal(t.rows[0]![6]!.text, '3.0 MiB');
    assert.equal(t.rows[2]![7]!.text, '–');
    assert.deepEqual(t.blockStarts, [0]);
  });

  it('starts a block where the other axes change (train_rows=10 → 20)', () => {
    const r = report({ axes: ['method', 'train_rows', 'seed'], rows: [
      { axes: { method: 'a', train_rows: 10 }, block: 'train_rows=10', n: 1, runs: 1 },
      { axes: { method: 'b', train_rows: 10 }, block: 'train_rows=10', n: 1, runs: 1 },
      { axes: { method: 'a', train_rows: 20 }, block: 'train_rows=20', n: 1, runs: 1 },
    ] });
    const t = reportTable(r);
    assert.deepEqual(t.header.slice(0, 2), ['method', 'train_rows']);
    assert.deepEqual(t.blockStarts, [0, 2]);
  });

  it('draws the charts and the grids with the engine\'s SVG code, one figure each', () => {
    const svgs = reportSvgs(report());
    assert.deepEqual(svgs.map((s) => s.id), ['metric-vs-params', 'what-moved']);
    assert.equal((svgs[0]!.svg.match(/<circle [^>]*><title>/g) ?? []).length, 2, 'one point per method');
    assert.match(svgs[1]!.svg, /layer\.1/);
    assert.deepEqual(reportSvgs(report({ grids: [] })).map((s) => s.id), ['metric-vs-params']);
    const empty = report({ grids: [] });
    empty.charts[0]!.series = [];
    assert.deepEqual(reportSvgs(empty), [], 'no finished run: no empty chart frame');
  });

  it('formats sizes', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(2048), '2.0 KiB');
    assert.equal(formatBytes(undefined), '–');
  });
});
