/**
 * The playground's host side without VS Code: what it accepts from its webview (ids and bounded texts,
 * never paths) and which runs it offers to try.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { RunManager } from '../../extension/src/core/runManager';
import { MAX_TEXT } from '../../protocol/playground';
import { playgroundRuns } from '../../extension/src/playground/runs';
import { parsePlaygroundMessage } from '../../extension/src/playground/validate';
import { removeTempDirs, tempDir } from '../helpers/train-fixtures';

after(removeTempDirs);

describe('playground messages are validated before the host acts', () => {
  const accepted = [
    { v: 1, kind: 'playground/ready' },
    { v: 1, kind: 'playground/selectRun', runId: '20261123-001502-bitfit-sst2-a1b2' },
    { v: 1, kind: 'playground/predict', requestId: 3, runId: 'r1', text: 'a fine film' },
    { v: 1, kind: 'playground/predict', requestId: 0, runId: 'r1', text: 'a premise', textPair: 'a hypothesis' },
    { v: 1, kind: 'playground/predictFile', runId: 'r1' },
    { v: 1, kind: 'playground/log', level: 'error', message: 'boom' },
  ];
  for (const m of accepted) it(`accepts ${m.kind}${'textPair' in m ? ' (pair)' : ''}`, () => assert.deepEqual(parsePlaygroundMessage(m), { ok: true, message: m }));

  const rejected: Array<[string, unknown]> = [
    ['a path as run id', { v: 1, kind: 'playground/selectRun', runId: '../../etc' }],
    ['an absolute path as run id', { v: 1, kind: 'playground/predictFile', runId: '/tmp/run' }],
    ['".." as run id', { v: 1, kind: 'playground/selectRun', runId: '..' }],
    ['an empty text', { v: 1, kind: 'playground/predict', requestId: 1, runId: 'r', text: '' }],
    ['a blank text', { v: 1, kind: 'playground/predict', requestId: 1, runId: 'r', text: ' \n\t' }],
    ['a blank second text', { v: 1, kind: 'playground/predict', requestId: 1, runId: 'r', text: 'a', textPair: '  ' }],
    ['a text past the limit', { v: 1, kind: 'playground/predict', requestId: 1, runId: 'r', text: 'x'.repeat(MAX_TEXT + 1) }],
    ['a fractional request id', { v: 1, kind: 'playground/predict', requestId: 1.5, runId: 'r', text: 'a' }],
    ['a negative request id', { v: 1, kind: 'playground/predict', requestId: -1, runId: 'r', text: 'a' }],
    ['a missing request id', { v: 1, kind: 'playground/predict', runId: 'r', text: 'a' }],
    ['an unknown kind', { v: 1, kind: 'playground/deleteRun', runId: 'r' }],
    ['a dashboard message', { v: 1, kind: 'dashboard/ready' }],
    ['another protocol version', { v: 2, kind: 'playground/ready' }],
    ['an unknown log level', { v: 1, kind: 'playground/log', level: 'debug', message: 'x' }],
    ['not an object', 'playground/ready'],
    ['null', null],
  ];
  for (const [name, m] of rejected) {
    it(`rejects ${name}`, () => {
      const r = parsePlaygroundMessage(m);
      assert.equal(r.ok, false);
      if (!r.ok) assert.ok(r.reason.length > 0);
    });
  }

  it('drops fields it does not know, such as a path smuggled into predictFile', () => {
    const r = parsePlaygroundMessage({ v: 1, kind: 'playground/predictFile', runId: 'r1', path: '/etc/passwd', out: '/tmp/x.csv' });
    assert.ok(r.ok);
    assert.deepEqual(r.ok && r.message, { v: 1, kind: 'playground/predictFile', runId: 'r1' });
  });
});

describe('runs offered to try', () => {
  /** A run folder as the trainer leaves it: events ending in `end`, and checkpoints if any were saved. */
  function runFolder(runsDir: string, id: string, end: 'finished' | 'stopped' | 'failed' | undefined, checkpoint: boolean, bestAccuracy?: number): void {
    const dir = path.join(runsDir, id);
    fs.mkdirSync(dir, { recursive: true });
    // Today's runs store `method: { name, … }`; older ones `method: 'bitfit'` with its settings at the top.
    const method = id.startsWith('b') ? { method: { name: 'lora', r: 4, lora_alpha: 8, target_modules: ['query', 'value'] } } : { method: 'bitfit', bias_terms: ['sparse'] };
    // One base, two tasks: every run starts from /models/bert-tiny; `b` runs learn topics.
    const data = id.startsWith('b') ? '/data/topics.csv' : '/data/sentiment/train.tsv';
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ run_name: `name-${id}`, model: '/models/bert-tiny', train_file: data, ...method }));
    const events: object[] = [];
    if (bestAccuracy !== undefined) events.push({ v: 1, type: 'eval', step: 4, epoch: 1, loss: 0.5, metrics: { accuracy: bestAccuracy }, primary: 'accuracy', isBest: true, examples: 8, seconds: 0 });
    if (end) events.push({ v: 1, type: end, step: 4, time: '', seconds: 1 });
    fs.writeFileSync(path.join(dir, 'events.jsonl'), events.map((e) => JSON.stringify(e) + '\n').join(''));
    if (checkpoint) fs.mkdirSync(path.join(dir, 'checkpoints', 'step-00000004'), { recursive: true });
  }

  it('finished or stopped runs with a checkpoint, labelled with their method and best metric', () => {
    const runsDir = tempDir('peft-playground-runs-');
    runFolder(runsDir, 'a-finished', 'finished', true, 0.875);
    runFolder(runsDir, 'b-stopped', 'stopped', true);
    runFolder(runsDir, 'c-stopped-early', 'stopped', false);
    runFolder(runsDir, 'd-failed', 'failed', true);
    runFolder(runsDir, 'e-interrupted', undefined, false);
    const runs = new RunManager({ runsDir, spawn: () => assert.fail('nothing is spawned') });
    runs.restore();
    assert.deepEqual(
      playgroundRuns(runs).sort((x, y) => x.runId.localeCompare(y.runId)),
      [
        { runId: 'a-finished', label: 'name-a-finished', status: 'finished', method: 'BitFit sparse', metric: 'accuracy 0.875', baseKey: '/models/bert-tiny', base: 'bert-tiny', task: 'sentiment' },
        { runId: 'b-stopped', label: 'name-b-stopped', status: 'stopped', method: 'LoRA r=4', metric: undefined, baseKey: '/models/bert-tiny', base: 'bert-tiny', task: 'topics' },
      ],
    );
  });
});
