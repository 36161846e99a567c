import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toChangeEvent, type BiasCell, type ChangeCell, type ChangeEvent } from '../../../engine/protocol/events';
import { buildGrid, columnOf, detailLists, frameIndex, hasRelativeMode, intensity, layoutOf, nonZeroCells, scaleMax, topUnits, type HeatLayout } from './heatmap-model';

const KINDS = ['query', 'key', 'value', 'attention.output', 'attention.LayerNorm', 'intermediate', 'output', 'output.LayerNorm'];
const ROWS = ['embeddings', 'layer.0', 'layer.1', 'pooler', 'classifier'];
const started = { heatmap: { rows: ROWS, kinds: KINDS } };

const cell = (name: string, row: string, kind: string, meanAbs: number, relative: number | null, top: BiasCell['top'] = []): BiasCell => ({ name, row, kind, meanAbs, relative, top });
// BitFit runs written before the `change` event: their biasChange events, read as today's viewer reads them.
const event = (step: number, cells: BiasCell[]): ChangeEvent => toChangeEvent({ v: 1, type: 'biasChange', step, cells });

const e1 = event(10, [
  cell('bert.embeddings.LayerNorm.bias', 'embeddings', 'embeddings.LayerNorm', 0.001, 0.01, [{ index: 7, delta: 0.002 }]),
  cell('bert.encoder.layer.0.attention.self.query.bias', 'layer.0', 'query', 0.004, 0.2, [{ index: 3, delta: -0.01 }, { index: 5, delta: 0.008 }]),
  cell('bert.encoder.layer.1.intermediate.dense.bias', 'layer.1', 'intermediate', 0.002, 0.05),
  cell('bert.pooler.dense.bias', 'pooler', 'pooler', 0, 0),
  cell('classifier.bias', 'classifier', 'head', 0.05, null, [{ index: 1, delta: 0.06 }]),
]);
const e2 = event(20, [cell('bert.encoder.layer.0.attention.self.query.bias', 'layer.0', 'query', 0.009, 0.4)]);

const at = (grid: ReturnType<typeof buildGrid>, row: string, kind: string) => grid.cells[grid.rows.indexOf(row)]![grid.kinds.indexOf(kind)]!;

describe('heatmap model', () => {
  it('maps the out-of-layer kinds to their documented columns', () => {
    assert.equal(columnOf({ kind: 'embeddings.LayerNorm', name: 'bert.embeddings.LayerNorm.bias' }, KINDS), 'output.LayerNorm');
    assert.equal(columnOf({ kind: 'pooler', name: 'bert.pooler.dense.bias' }, KINDS), 'output');
    assert.equal(columnOf({ kind: 'head', name: 'classifier.bias' }, KINDS), 'output');
    assert.equal(columnOf({ kind: 'head', name: 'pre_classifier.bias' }, KINDS), 'intermediate');
    assert.equal(columnOf({ kind: 'query', name: 'x' }, KINDS), 'query');
  });

  it('builds the rows × kinds grid with meanAbs values and the frame max (an older BitFit run)', () => {
    const layout = layoutOf(started, [e1]);
    assert.equal(layout.measure, 'mean |Δb|', 'runs from before `measure` are BitFit\'s');
    const g = buildGrid(layout, e1, 'value');
    assert.equal(g.cells.length, 5);
    assert.equal(g.cells[0]!.length, 8);
    assert.equal(g.step, 10);
    assert.equal(at(g, 'layer.0', 'query').value, 0.004);
    assert.equal(at(g, 'embeddings', 'output.LayerNorm').value, 0.001);
    assert.equal(at(g, 'classifier', 'output').value, 0.05);
    assert.equal(at(g, 'layer.0', 'key').value, null);
    assert.equal(g.max, 0.05);
    // embeddings, layer.0 query, layer.1 intermediate, classifier; the pooler moved by exactly 0
    assert.equal(nonZeroCells(g), 4);
  });

  it('relative mode: null where b₀ = 0 (a fresh head)', () => {
    const g = buildGrid(layoutOf(started, [e1]), e1, 'relative');
    assert.ok(hasRelativeMode([e1]), "BitFit's relative change differs from mean |Δb|");
    assert.equal(at(g, 'classifier', 'output').value, null);
    assert.equal(at(g, 'layer.0', 'query').value, 0.2);
    assert.equal(g.max, 0.2);
  });

  it('scale max spans every event, so a replay grows against one scale', () => {
    assert.equal(scaleMax([e1, e2], 'value'), 0.05);
    assert.equal(scaleMax([e1, e2], 'relative'), 0.4);
    assert.equal(scaleMax([], 'value'), 0);
    assert.equal(intensity(0.025, 0.05), 0.5);
    assert.equal(intensity(null, 0.05), 0);
    assert.equal(intensity(1, 0), 0);
    assert.equal(intensity(2, 1), 1);
  });

  it('two biases in one cell: the larger value, both listed', () => {
    const layout: HeatLayout = { rows: ['classifier'], kinds: KINDS, measure: 'mean |Δb|' };
    const e = event(5, [
      cell('classifier.bias', 'classifier', 'head', 0.01, null, [{ index: 0, delta: 0.02 }]),
      cell('classifier.out_proj.bias', 'classifier', 'head', 0.03, null, [{ index: 4, delta: -0.05 }]),
    ]);
    const c = at(buildGrid(layout, e, 'value'), 'classifier', 'output');
    assert.equal(c.value, 0.03);
    assert.equal(c.cells.length, 2);
    assert.deepEqual(topUnits(c), [
      { name: 'classifier.out_proj.bias', index: 4, delta: -0.05 },
      { name: 'classifier.bias', index: 0, delta: 0.02 },
    ]);
  });

  it('top units: largest |delta| first, limited', () => {
    const c = at(buildGrid(layoutOf(started, [e1]), e1, 'value'), 'layer.0', 'query');
    assert.deepEqual(topUnits(c, 1), [{ name: 'bert.encoder.layer.0.attention.self.query.bias', index: 3, delta: -0.01 }]);
  });

  it('layout: started rows first, unknown rows appended, kinds fall back without a started event', () => {
    const e = event(1, [cell('x.bias', 'adapter', 'query', 0.1, 0.1)]);
    assert.deepEqual(layoutOf(started, [e]).rows, [...ROWS, 'adapter']);
    assert.deepEqual(layoutOf(undefined, [e]), { rows: ['adapter'], kinds: KINDS, measure: 'mean |Δb|' });
  });

  it('frame index: follows the latest unless scrubbed', () => {
    assert.equal(frameIndex([], null), -1);
    assert.equal(frameIndex([e1, e2], null), 1);
    assert.equal(frameIndex([e1, e2], 0), 0);
    assert.equal(frameIndex([e1, e2], 9), 1);
  });

  it('an empty event gives an empty grid', () => {
    const g = buildGrid(layoutOf(started, []), undefined, 'value');
    assert.equal(g.step, undefined);
    assert.equal(g.max, 0);
    assert.equal(nonZeroCells(g), 0);
  });
});

describe('heatmap model: other methods (LoRA)', () => {
  const MEASURE = '‖ΔW‖F / ‖W‖F';
  const loraStarted = { heatmap: { rows: ['embeddings', 'layer.0', 'layer.1', 'pooler', 'classifier'], kinds: ['query', 'value'], measure: MEASURE } };
  const details = (s: number): NonNullable<ChangeCell['details']> => [
    { title: 'singular values of ΔW', items: [{ label: 'σ1', value: 3 * s }, { label: 'σ2', value: s }] },
    { title: 'output units moved most (‖ΔW row‖)', items: [{ label: 'out 7', value: 2 * s }] },
    { title: 'input units read most (‖ΔW column‖)', items: [{ label: 'in 2', value: s }] },
  ];
  const lora = (name: string, row: string, kind: string, value: number): ChangeCell => ({ name, row, kind, value, relative: value, top: [{ index: 7, delta: 2 * value }], details: details(value) });
  const ev: ChangeEvent = {
    v: 1,
    type: 'change',
    step: 20,
    measure: MEASURE,
    cells: [
      lora('bert.encoder.layer.0.attention.self.query', 'layer.0', 'query', 0.01),
      lora('bert.encoder.layer.0.attention.self.value', 'layer.0', 'value', 0.03),
      lora('bert.encoder.layer.1.attention.self.value', 'layer.1', 'value', 0.02),
    ],
  };

  it("columns and measure come from started.heatmap; cells colour by value", () => {
    const layout = layoutOf(loraStarted, [ev]);
    assert.deepEqual(layout.kinds, ['query', 'value']);
    assert.equal(layout.measure, MEASURE);
    const g = buildGrid(layout, ev, 'value');
    assert.equal(at(g, 'layer.0', 'value').value, 0.03);
    assert.equal(at(g, 'layer.1', 'query').value, null, 'layer 1 query is not a target here');
    assert.equal(g.max, 0.03);
    assert.equal(nonZeroCells(g), 3);
  });

  it('no relative mode where the relative change is the value itself', () => {
    assert.equal(hasRelativeMode([ev]), false);
  });

  it("a selected cell lists its top units and every one of the method's detail lists", () => {
    const c = at(buildGrid(layoutOf(loraStarted, [ev]), ev, 'value'), 'layer.0', 'value');
    assert.deepEqual(topUnits(c), [{ name: 'bert.encoder.layer.0.attention.self.value', index: 7, delta: 0.06 }]);
    assert.deepEqual(detailLists(c).map((d) => d.title), ['singular values of ΔW', 'output units moved most (‖ΔW row‖)', 'input units read most (‖ΔW column‖)']);
    assert.deepEqual(detailLists(c)[0]!.items.map((i) => i.label), ['σ1', 'σ2']);
  });

  it('a kind without a column of its own (the pooler with target dense) keeps a column when the layout has one', () => {
    const layout = layoutOf({ heatmap: { ...loraStarted.heatmap, kinds: ['query', 'value', 'pooler'] } }, [ev]);
    assert.equal(columnOf({ kind: 'pooler', name: 'bert.pooler.dense' }, layout.kinds), 'pooler');
  });

  it('without a started event, the columns are the cells\' own kinds', () => {
    assert.deepEqual(layoutOf(undefined, [ev]).kinds, ['query', 'value']);
  });
});
