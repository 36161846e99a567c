import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { heatmapRow, lineChart } from './svg';

describe('study charts', () => {
  it('draws values that agree to rounding (every seed at the majority class) without looping', () => {
    const y = 0.6838235294117647;
    const svg = lineChart([{ name: 'a', points: [{ x: 3330, y }, { x: 8450, y: y + 1e-16, err: 0 }] }, { name: 'b', points: [{ x: 3330, y: (y * 3) / 3 }] }], { title: 't', xLabel: 'x', yLabel: 'y', logX: true });
    assert.match(svg, /^<svg/);
    assert.equal((svg.match(/<circle [^>]*><title>/g) ?? []).length, 3);
    const flat = lineChart([{ name: 'a', points: [{ x: 500, y: 0.5 }, { x: 500, y: 0.5 }], line: true }], { title: 't', xLabel: 'x', yLabel: 'y' });
    assert.ok(flat.length < 20000);
  });

  it('heatmaps colour each grid against its own largest cell and grey out missing cells', () => {
    const svg = heatmapRow([{ title: 'm', rows: ['r0', 'r1'], columns: ['c0', 'c1'], values: [[1, undefined], [0.5, 0]], measure: 'mean |Δb|' }], 'grids');
    assert.match(svg, /fill="rgb\(8,48,107\)"/); // the largest cell at full colour
    assert.match(svg, /fill="#f4f4f4"/); // the missing one
    assert.match(svg, /mean \|Δb\|, max 1\.00/);
  });

  it('a single small grid is still as wide as its title', () => {
    const title = 'methods: what moved (final grids, mean over seeds)';
    const svg = heatmapRow([{ title: 'lora', rows: ['layer.0'], columns: ['query', 'value'], values: [[1, 2]], measure: 'x' }], title);
    const width = Number(/width="(\d+)"/.exec(svg)![1]);
    assert.ok(width >= 12 + title.length * 8, `${width} px for a ${title.length}-character title`);
  });
});
