/** The .peftnb file format: round trips (outputs included), stable bytes, and what a bad file is told. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newCellId, parseNotebook, serializeNotebook, stableStringify, toLines, type NotebookFile } from '../../extension/src/notebook/format';
import { COMPARE_MIME, RUN_MIME } from '../../protocol/notebook-output';

const runOutput = {
  v: 1,
  kind: 'run',
  runId: '20260101-000000-bitfit-data-ab12',
  label: 'all biases',
  status: 'finished',
  config: { model: 'tiny-bert', train_file: 'data/train.tsv', learning_rate: 0.002 },
  step: 54,
  totalSteps: 54,
  loss: { step: [1, 2, 54], value: [0.7, 0.69, 0.31] },
  evals: [{ step: 54, loss: 0.4, metrics: { accuracy: 0.875 } }],
  finalMetrics: { accuracy: 0.875 },
  bias: { step: 50, rows: ['layer.0'], kinds: ['query'], cells: [{ name: 'bert.encoder.layer.0.attention.self.query.bias', row: 'layer.0', kind: 'query', meanAbs: 0.01, relative: null }] },
};

const notebook: NotebookFile = {
  cells: [
    { kind: 'markdown', source: '# Notes\n\nsome *text*' },
    { kind: 'code', id: 'a1b2c3', language: 'yaml', source: 'model: tiny-bert\ntrain_file: data/train.tsv\n', execution: { order: 1, success: true }, outputs: [{ mime: RUN_MIME, data: runOutput }] },
    { kind: 'code', id: 'd4e5f6', language: 'json', source: '{ "extends": "previous" }' },
    { kind: 'code', id: 'c0ffee', language: 'yaml', source: 'compare: all', outputs: [{ mime: COMPARE_MIME, data: { v: 1, kind: 'compare', runs: [], diff: [], sameCount: 0, metrics: [] } }] },
  ],
};

describe('notebook file format', () => {
  it('round-trips cells, languages, ids, execution state and outputs', () => {
    const text = serializeNotebook(notebook);
    assert.deepEqual(parseNotebook(text), notebook);
  });

  it('serialises the same notebook to the same bytes, whatever the key order in memory', () => {
    const shuffled: NotebookFile = { cells: notebook.cells.map((c) => Object.fromEntries(Object.entries(c).reverse()) as typeof c) };
    assert.equal(serializeNotebook(shuffled), serializeNotebook(notebook));
    assert.equal(serializeNotebook(parseNotebook(serializeNotebook(notebook))), serializeNotebook(notebook));
  });

  it('writes sources as lines and number series on one line (small diffs)', () => {
    const text = serializeNotebook(notebook);
    assert.match(text, /"source": \[\n\s+"model: tiny-bert\\n",\n\s+"train_file: data\/train.tsv\\n"\n\s+\]/);
    assert.match(text, /"value": \[0.7, 0.69, 0.31\]/);
    assert.ok(text.indexOf('"format"') < text.indexOf('"version"') && text.indexOf('"version"') < text.indexOf('"cells"'));
    // inside a cell: kind, id, language, source come first
    const cell = text.slice(text.indexOf('"a1b2c3"') - 40);
    assert.ok(cell.indexOf('"kind"') < cell.indexOf('"id"') && cell.indexOf('"language"') < cell.indexOf('"source"') && cell.indexOf('"source"') < cell.indexOf('"outputs"'));
  });

  it('splits lines keeping newlines, so joining gives the source back', () => {
    for (const s of ['', 'a', 'a\n', 'a\nb', '\n\n', 'x\n\ny\n']) assert.equal(toLines(s).join(''), s);
    assert.deepEqual(toLines('a\nb'), ['a\n', 'b']);
  });

  it('reads an empty file as an empty notebook', () => {
    assert.deepEqual(parseNotebook(''), { cells: [] });
    assert.deepEqual(parseNotebook('  \n'), { cells: [] });
  });

  it('drops outputs of foreign mime types but keeps the cell', () => {
    const text = JSON.stringify({ format: 'peft-studio-notebook', version: 1, cells: [{ kind: 'code', id: 'x1', source: ['a: 1'], outputs: [{ mime: 'text/html', data: '<script>' }, { mime: RUN_MIME, data: runOutput }] }] });
    const nb = parseNotebook(text);
    assert.equal(nb.cells[0]!.outputs!.length, 1);
    assert.equal(nb.cells[0]!.outputs![0]!.mime, RUN_MIME);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['invalid JSON', '{', /invalid JSON/],
    ['another format', JSON.stringify({ format: 'ipynb', version: 1, cells: [] }), /format/],
    ['a newer version', JSON.stringify({ format: 'peft-studio-notebook', version: 2, cells: [] }), /version/],
    ['a cell id with a path in it', JSON.stringify({ format: 'peft-studio-notebook', version: 1, cells: [{ kind: 'code', id: '../x', source: '' }] }), /cells\.0\.id/],
    ['an unknown cell kind', JSON.stringify({ format: 'peft-studio-notebook', version: 1, cells: [{ kind: 'raw', source: '' }] }), /cells\.0\.kind/],
  ];
  for (const [name, text, reason] of bad) it(`rejects ${name} with a reason`, () => assert.throws(() => parseNotebook(text), reason));

  it('writes non-finite numbers as null (JSON has no NaN)', () => {
    assert.equal(stableStringify({ a: [1, NaN, Infinity] }), '{\n  "a": [1, null, null]\n}\n');
  });

  it('draws cell ids that are not taken', () => {
    let n = 0;
    const seq = [0.5, 0.5, 0.25];
    const id = newCellId(new Set([Math.floor(0.5 * 0xffffff).toString(16).padStart(6, '0')]), () => seq[n++]!);
    assert.equal(id, Math.floor(0.25 * 0xffffff).toString(16).padStart(6, '0'));
  });
});
