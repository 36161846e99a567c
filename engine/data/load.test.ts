/**
 * loadDataset on small generated files: each format, each kind of bad row (with its file and line), and
 * the label rules. Files are written byte for byte here so that line numbers can be read off the source.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeftStudioError } from '../errors';
import { loadDataset } from './index';
import { tmpFile } from './testing/tmp';

/** Rejects with a PeftStudioError of `code` whose message contains every one of `parts`. */
async function rejects(p: Promise<unknown>, code: string, ...parts: string[]): Promise<PeftStudioError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PeftStudioError, `not a PeftStudioError: ${err}`);
    assert.equal(err.code, code, err.message);
    for (const part of parts) assert.ok(err.message.includes(part), `"${part}" not in:\n${err.message}`);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('TSV', () => {
  it('auto-detects columns, keeps integer labels, numbers lines from 1 with the header as line 1', async () => {
    const f = tmpFile('basic.tsv', 'sentence\tlabel\na fine film\t1\n\nawful\t0\n');
    const ds = await loadDataset(f);
    assert.deepEqual(ds.columns, { text: 'sentence', label: 'label' });
    assert.deepEqual(ds.examples, [
      { text: 'a fine film', label: 1, line: 2 },
      { text: 'awful', label: 0, line: 4 }, // line 3 is blank: skipped, but still counted
    ]);
    assert.equal(ds.task, 'classification');
    assert.equal(ds.numLabels, 2);
    assert.equal(ds.id2label, undefined);
  });

  it('does no quote processing: unbalanced " stay in the text and rows stay separate', async () => {
    const f = tmpFile('quotes.tsv', 'text\tlabel\n"He said\t1\nso "it\'s" fine"\t0\n');
    const ds = await loadDataset(f);
    assert.deepEqual(ds.examples.map((e) => e.text), ['"He said', 'so "it\'s" fine"']);
  });

  it('strips a UTF-8 BOM so the first header name still matches, and CRLF line ends', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('Quality\t#1 String\t#2 String\r\n1\ta\tb\r\n')]);
    const ds = await loadDataset(tmpFile('bom.tsv', bytes));
    assert.deepEqual(ds.columns, { text: '#1 String', textPair: '#2 String', label: 'Quality' });
    assert.deepEqual(ds.examples, [{ text: 'a', textPair: 'b', label: 1, line: 2 }]);
    // Without a header the BOM would otherwise start the first example's text.
    const headerless = tmpFile('bom-nohead.tsv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('good\t1\n')]));
    const nh = await loadDataset(headerless, { hasHeader: false, columns: { text: 0, label: 1 } });
    assert.equal(nh.examples[0].text, 'good');
  });

  it('headerless files take columns by index, and say so when none are given', async () => {
    const f = tmpFile('nohead.tsv', 'good\t1\nbad\t0\n');
    const ds = await loadDataset(f, { hasHeader: false, columns: { text: 0, label: 1 } });
    assert.deepEqual(ds.examples.map((e) => [e.text, e.label, e.line]), [['good', 1, 1], ['bad', 0, 2]]);
    assert.deepEqual(ds.columns, { text: 0, label: 1 });
    await rejects(loadDataset(f, { hasHeader: false }), 'BAD_INPUT', 'no header', 'by index');
  });
});

describe('CSV (RFC 4180 via csv-parse)', () => {
  it('reads quoted commas, newlines and doubled quotes; a multi-line row reports the line it starts on', async () => {
    const f = tmpFile(
      'quoted.csv',
      [
        'text,label', //                                     line 1
        '"good, really good",1', //                          line 2
        '"first line', //                                    line 3 (row starts)
        'second line",0', //                                 line 4
        '"she said ""wow""",1', //                           line 5
        'plain,0', //                                        line 6
        'a 12" vinyl,1', //                                  line 7: a quote inside an unquoted field is text
      ].join('\n') + '\n',
    );
    const ds = await loadDataset(f);
    assert.deepEqual(
      ds.examples.map((e) => [e.text, e.label, e.line]),
      [
        ['good, really good', 1, 2],
        ['first line\nsecond line', 0, 3],
        ['she said "wow"', 1, 5],
        ['plain', 0, 6],
        ['a 12" vinyl', 1, 7],
      ],
    );
  });

  it('a quote never closed stops parsing with the line where it opened', async () => {
    const f = tmpFile('unclosed.csv', 'text,label\nok,1\n\n"never closed,0\nmore,1\n');
    await rejects(loadDataset(f), 'BAD_DATA', `${f}:4:`, 'never closed');
  });
});

describe('JSONL', () => {
  it('reads objects per line with the same column names, including pairs', async () => {
    const f = tmpFile('pairs.jsonl', '{"premise":"A man sleeps.","hypothesis":"A person rests.","label":"entailment"}\n\n{"premise":"It rains.","hypothesis":"It is dry.","label":"contradiction"}\n');
    const ds = await loadDataset(f);
    assert.deepEqual(ds.columns, { text: 'premise', textPair: 'hypothesis', label: 'label' });
    // names sorted: contradiction → 0, entailment → 1
    assert.deepEqual(ds.examples.map((e) => [e.label, e.line]), [[1, 1], [0, 3]]);
    assert.deepEqual(ds.label2id, { contradiction: 0, entailment: 1 });
    assert.deepEqual(ds.id2label, { 0: 'contradiction', 1: 'entailment' });
  });
});

describe('bad rows: reported with file and line', () => {
  // One file with every kind of TSV problem. Under 'fail' the message lists the first five and the count.
  const tsv = [
    'sentence\tlabel', //            1
    'fine\t1', //                    2
    'no label here\t', //            3  missing label
    '   \t0', //                     4  empty text
    'too\tmany\tcells', //           5  wrong column count
    'BADUTF8\t1', //                 6  invalid UTF-8 (patched in below)
    'also fine\t0', //               7
    'only one cell', //              8  wrong column count
  ].join('\n');
  const bytes = Buffer.from(tsv + '\n');
  bytes.set([0x62, 0xff, 0xfe, 0x64], bytes.indexOf('BADUTF8') + 1); // b\xff\xfe d: not UTF-8
  const file = tmpFile('bad.tsv', bytes);
  const expected = [
    { file, line: 3, reason: "missing label (column 'label')" },
    { file, line: 4, reason: "empty text (column 'sentence')" },
    { file, line: 5, reason: 'expected 2 columns, found 3' },
    { file, line: 6, reason: 'invalid UTF-8' },
    { file, line: 8, reason: 'expected 2 columns, found 1' },
  ];

  it("'fail' (the default) throws BAD_DATA naming each file:line and the count", async () => {
    const err = await rejects(loadDataset(file), 'BAD_DATA', '5 bad rows', ...expected.map((b) => `${file}:${b.line}: ${b.reason}`));
    assert.equal(err.file, file);
  });

  it("'skip' keeps the good rows and lists every bad one, in line order", async () => {
    const ds = await loadDataset(file, { onBadRow: 'skip' });
    assert.deepEqual(ds.examples.map((e) => e.line), [2, 7]);
    assert.deepEqual(ds.badRows, expected);
  });

  it('the message lists five bad rows, then how many more', async () => {
    const lines = ['text\tlabel', ...Array.from({ length: 8 }, (_, i) => `row ${i}\t`)];
    const f = tmpFile('many-bad.tsv', lines.join('\n'));
    const err = await rejects(loadDataset(f), 'BAD_DATA', '8 bad rows', `${f}:6:`, '… and 3 more');
    assert.ok(!err.message.includes(`${f}:7:`), 'only the first five are listed');
  });

  it('CSV: wrong column count and invalid UTF-8 inside a multi-line row', async () => {
    const bytes = Buffer.from('text,label\n"two\nBAD lines",1\na,b,c\nok,0\n');
    bytes[bytes.indexOf('BAD')] = 0xc3; // a lone UTF-8 lead byte followed by 'A': invalid
    const f = tmpFile('bad.csv', bytes);
    const ds = await loadDataset(f, { onBadRow: 'skip' });
    assert.deepEqual(ds.badRows, [
      { file: f, line: 2, reason: 'invalid UTF-8' }, // the bad byte is on line 3; the row starts on 2
      { file: f, line: 4, reason: 'expected 2 columns, found 3' },
    ]);
    assert.deepEqual(ds.examples, [{ text: 'ok', label: 0, line: 5 }]);
  });

  it('JSONL: invalid JSON, a non-object, a missing label, invalid UTF-8', async () => {
    const bytes = Buffer.from(
      ['{"text":"good","label":1}', '{"text":"broken",', '[1,2]', '{"text":"no label"}', '{"text":"nul","label":null}', '{"text":"BAD","label":0}'].join('\n'),
    );
    bytes[bytes.indexOf('BAD')] = 0xff;
    const f = tmpFile('bad.jsonl', bytes);
    const ds = await loadDataset(f, { onBadRow: 'skip' });
    assert.deepEqual(ds.badRows.map((b) => [b.line, b.reason.replace(/:.*/, '')]), [
      [2, 'invalid JSON'],
      [3, 'expected a JSON object, found an array'],
      [4, "missing label (column 'label')"],
      [5, "missing label (column 'label')"],
      [6, 'invalid UTF-8'],
    ]);
    assert.deepEqual(ds.examples, [{ text: 'good', label: 1, line: 1 }]);
  });

  it('a file with no usable rows is an error even under skip', async () => {
    const f = tmpFile('allbad.tsv', 'text\tlabel\n\t1\n');
    await rejects(loadDataset(f, { onBadRow: 'skip' }), 'BAD_DATA', 'no usable examples');
  });
});

describe('labels', () => {
  it('integer labels keep their value: only 3 and 7 give ids 3 and 7 and numLabels 8', async () => {
    const f = tmpFile('sparse.tsv', 'text\tlabel\na\t7\nb\t3\nc\t7\n');
    const ds = await loadDataset(f);
    assert.deepEqual(ds.examples.map((e) => e.label), [7, 3, 7]);
    assert.equal(ds.numLabels, 8);
  });

  it("a label at or beyond the model's numLabels is a bad row", async () => {
    const f = tmpFile('range.tsv', 'text\tlabel\na\t2\nb\t7\n');
    await rejects(loadDataset(f, { numLabels: 3 }), 'BAD_DATA', `${f}:3: label 7 is out of range: the model has 3 labels (0–2)`);
    const ds = await loadDataset(f, { numLabels: 3, onBadRow: 'skip' });
    assert.deepEqual(ds.examples.map((e) => e.label), [2]);
    assert.equal(ds.numLabels, 3);
  });

  it('string labels map in sorted order, without renumbering by appearance', async () => {
    const f = tmpFile('names.tsv', 'sentence1\tsentence2\tlabel\na\tb\tnot_entailment\nc\td\tentailment\n');
    const ds = await loadDataset(f);
    assert.deepEqual(ds.label2id, { entailment: 0, not_entailment: 1 });
    assert.deepEqual(ds.examples.map((e) => e.label), [1, 0]);
  });

  it("string labels map through the model's labelMap (case-insensitively); unknown ones are bad rows", async () => {
    const f = tmpFile('mapped.tsv', 'text\tlabel\na\tpositive\nb\tNEGATIVE\nc\tneutral\n');
    const labelMap = { NEGATIVE: 0, POSITIVE: 1 };
    await rejects(loadDataset(f, { labelMap }), 'BAD_DATA', `${f}:4: unknown label 'neutral' (known: NEGATIVE, POSITIVE)`);
    const ds = await loadDataset(f, { labelMap, onBadRow: 'skip' });
    assert.deepEqual(ds.examples.map((e) => e.label), [1, 0]);
    assert.deepEqual(ds.id2label, { 0: 'NEGATIVE', 1: 'POSITIVE' });
    assert.equal(ds.numLabels, 2);
  });

  it('with a labelMap, integer labels are still ids, checked against the labelMap size', async () => {
    const f = tmpFile('mapped-ints.tsv', 'text\tlabel\na\t1\nb\t0\nc\t2\n');
    const ds = await loadDataset(f, { labelMap: { NEGATIVE: 0, POSITIVE: 1 }, onBadRow: 'skip' });
    assert.deepEqual(ds.examples.map((e) => e.label), [1, 0]);
    assert.deepEqual(ds.badRows.map((b) => [b.line, b.reason]), [[4, 'label 2 is out of range: the model has 2 labels (0–1)']]);
  });

  it('more distinct names than the model has labels is an error for the whole file', async () => {
    const f = tmpFile('toomany.tsv', 'text\tlabel\na\tx\nb\ty\nc\tz\n');
    await rejects(loadDataset(f, { numLabels: 2 }), 'BAD_DATA', '3 distinct labels (x, y, z) but the model has 2');
  });

  it('regression: float labels, inferred from non-integers (STS-B) or asked for', async () => {
    const f = tmpFile('stsb.tsv', 'sentence1\tsentence2\tscore\na\tb\t3.800\nc\td\t0\ne\tf\t5.0\n');
    const ds = await loadDataset(f);
    assert.equal(ds.task, 'regression');
    assert.equal(ds.numLabels, 1);
    assert.deepEqual(ds.examples.map((e) => e.label), [3.8, 0, 5]);
    // Integer-looking targets stay floats when regression is asked for (numLabels 1 implies it).
    const ints = tmpFile('ints.tsv', 'text\tlabel\na\t1\nb\t4\n');
    assert.equal((await loadDataset(ints, { numLabels: 1 })).task, 'regression');
  });

  it('regression: a non-numeric label is a bad row', async () => {
    const f = tmpFile('badreg.tsv', 'text\tlabel\na\t0.5\nb\thigh\n');
    await rejects(loadDataset(f, { task: 'regression' }), 'BAD_DATA', `${f}:3: label 'high' is not a number`);
  });

  it('classification: a fractional label is a bad row, not a new class', async () => {
    const f = tmpFile('frac.tsv', 'text\tlabel\na\t1\nb\t0.5\n');
    await rejects(loadDataset(f, { task: 'classification' }), 'BAD_DATA', `${f}:3: label '0.5' is not an integer class id`);
  });

  it('multi_label: lists or comma-separated ids become multi-hot vectors', async () => {
    const j = tmpFile('ml.jsonl', '{"text":"a","labels":[0,2]}\n{"text":"b","labels":[]}\n{"text":"c","labels":[3]}\n');
    const ds = await loadDataset(j, { numLabels: 4 });
    assert.equal(ds.task, 'multi_label'); // inferred from the lists
    assert.deepEqual(ds.examples.map((e) => e.label), [[1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1]]);
    const c = tmpFile('ml.csv', 'text,labels\na,"0, 2"\nb,1\nc,5\n');
    await rejects(loadDataset(c, { task: 'multi_label', numLabels: 3 }), 'BAD_DATA', `${c}:4: label 5 is out of range`);
    const names = tmpFile('mlnames.csv', 'text,labels\na,"sports,politics"\n');
    const byName = await loadDataset(names, { task: 'multi_label', labelMap: { politics: 0, science: 1, sports: 2 } });
    assert.deepEqual(byName.examples[0].label, [1, 0, 1]);
  });
});

describe('columns and options', () => {
  it('detects QNLI-style (question, sentence) as a pair, and textPair: null turns pairs off', async () => {
    const f = tmpFile('qnli.tsv', 'index\tquestion\tsentence\tlabel\n0\tWho?\tHim.\t0\n');
    assert.deepEqual((await loadDataset(f)).columns, { text: 'question', textPair: 'sentence', label: 'label' });
    const single = await loadDataset(f, { columns: { text: 'sentence', textPair: null } });
    assert.deepEqual(single.examples, [{ text: 'Him.', label: 0, line: 2 }]);
  });

  it('explicit columns by name or index; an unknown one lists the columns there are', async () => {
    const f = tmpFile('custom.tsv', 'id\treview\tstars\n1\tgreat\t4\n');
    const ds = await loadDataset(f, { columns: { text: 'review', label: 2 } });
    assert.deepEqual(ds.columns, { text: 'review', label: 'stars' });
    assert.deepEqual(ds.examples, [{ text: 'great', label: 4, line: 2 }]);
    await rejects(loadDataset(f, { columns: { text: 'body' } }), 'BAD_INPUT', "'body' not found", "'id', 'review', 'stars'");
    await rejects(loadDataset(f, { columns: { text: 'review' } }), 'BAD_INPUT', 'no label column');
  });

  it('prediction files: requireLabels false allows no label column; labels are undefined', async () => {
    const f = tmpFile('predict.tsv', 'sentence\nhello\nworld\n');
    await rejects(loadDataset(f), 'BAD_INPUT', 'no label column');
    const ds = await loadDataset(f, { requireLabels: false, numLabels: 2 });
    assert.equal(ds.hasLabels, false);
    assert.deepEqual(ds.examples, [
      { text: 'hello', label: undefined, line: 2 },
      { text: 'world', label: undefined, line: 3 },
    ]);
    assert.equal(ds.numLabels, 2);
    // HF test splits mark "no label" with -1; in a prediction file that is an unlabeled row, not an error.
    const hf = tmpFile('hf-test.jsonl', '{"sentence":"a","label":-1}\n{"sentence":"b","label":1}\n');
    const mixed = await loadDataset(hf, { requireLabels: false });
    assert.deepEqual(mixed.examples.map((e) => e.label), [undefined, 1]);
    assert.equal(mixed.hasLabels, false);
  });

  it('format from the extension, overridable; missing files are MISSING_FILE', async () => {
    const f = tmpFile('data.txt', 'text\tlabel\nx\t1\n');
    await rejects(loadDataset(f), 'BAD_INPUT', "'.txt'", 'pass format');
    assert.equal((await loadDataset(f, { format: 'tsv' })).examples.length, 1);
    await rejects(loadDataset('/nonexistent/train.tsv'), 'MISSING_FILE', '/nonexistent/train.tsv');
  });
});
