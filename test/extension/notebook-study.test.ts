/** Notebook study cells: parsing with nested spans, checks before anything runs, the snippet, progress folding. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseCell, resolveCell } from '../../extension/src/notebook/cells';
import { STUDY_SNIPPET, suggestionsAt } from '../../extension/src/notebook/completion';
import { combinations, runConfigOf, studyFolderName, studyProblemSpan, validateStudyCell } from '../../extension/src/notebook/study-cell';
import { applyStudyEvent, studyOutputOfFolder } from '../../extension/src/core/studyProcess';
import type { StudyOutput } from '../../protocol/study';
import { studyProgressText } from '../../protocol/study';
import { validateStudyConfig } from '../../engine/study/config';

const STUDY = ['study:', '  name: methods', '  base:', '    model: tiny-bert', '    train_file: data/reviews.tsv', '    max_steps: 4', '  axes:', '    method: [bitfit, {name: lora, lora_r: 4}, full]', '    seed: [0, 1, 2]', ''].join('\n');

describe('study cells', () => {
  it('parses a study: cell with spans for its nested keys and list items', () => {
    const c = parseCell(STUDY);
    assert.equal(c.kind, 'study');
    assert.deepEqual(c.problems, []);
    assert.deepEqual((c.study as { axes: { seed: number[] } }).axes.seed, [0, 1, 2]);
    assert.equal(STUDY.slice(...c.studyKeySpans!['axes.method']!), 'method');
    assert.equal(STUDY.slice(...c.studyValueSpans!['axes.method[2]']!), 'full');
    assert.equal(STUDY.slice(...c.studyValueSpans!['base.max_steps']!), '4');
  });

  it('a study cell holds only `study`, and is not part of an extends chain', () => {
    const c = parseCell(`${STUDY}learning_rate: 0.1\n`);
    assert.match(c.problems[0]!.message, /only the "study" key/);
    const cells = [parseCell('model: m\ntrain_file: t.tsv\n'), parseCell(STUDY), parseCell('extends: previous\nlearning_rate: 0.1\n')];
    const r = resolveCell(cells, 2);
    assert.ok(r.ok && r.config.model === 'm', 'the run cell below extends the run cell above the study');
  });

  it('accepts a valid study: methods with settings, seeds, study keys and run-config axes', () => {
    assert.deepEqual(validateStudyCell(parseCell(STUDY).study), []);
    assert.deepEqual(validateStudyCell({ base: { model: 'm', train_file: 't' }, axes: { method: ['bitfit', { name: 'lora', r: 2, label: 'lora-r2' }], train_rows: [10, 20], learning_rate: [1e-3, 1e-4], init_from_scratch: [false, true] } }), []);
  });

  it('names an unknown axis, an unknown method and a setting of another method, at their lines', () => {
    const text = STUDY.replace('    seed: [0, 1, 2]', '    sede: [0, 1]').replace('full]', 'ful]');
    const c = parseCell(text);
    const problems = validateStudyCell(c.study);
    assert.deepEqual(problems.map((p) => p.path), ['axes.method[2]', 'axes.sede']);
    assert.match(problems.find((p) => p.path === 'axes.sede')!.message, /unknown axis "sede"/);
    assert.match(problems.find((p) => p.path === 'axes.method[2]')!.message, /unknown method "ful"/);
    assert.equal(text.slice(...studyProblemSpan(c, problems.find((p) => p.path === 'axes.sede')!)), 'sede');
    assert.equal(text.slice(...studyProblemSpan(c, problems.find((p) => p.path === 'axes.method[2]')!)), 'ful');
    const foreign = validateStudyCell({ base: { model: 'm', train_file: 't', lora_r: 4 }, axes: { method: ['bitfit', 'lora'] } });
    assert.equal(foreign.length, 1, JSON.stringify(foreign));
    assert.equal(foreign[0]!.path, 'base.lora_r');
    assert.match(foreign[0]!.message, /lora_r.*\(run method=bitfit\)/);
  });

  it('checks the shape as the engine does: base, axes lists, keys the study sets, duplicates', () => {
    const msgs = (s: unknown) => validateStudyCell(s).map((p) => `${p.path}: ${p.message}`);
    assert.match(msgs('x')[0]!, /must be a mapping/);
    assert.match(msgs({ axes: {} })[0]!, /base must be a mapping/);
    assert.match(msgs({ base: { model: 'm', train_file: 't' }, axes: { seed: 3 } })[0]!, /axes.seed: .*non-empty list/);
    assert.match(msgs({ base: { model: 'm', train_file: 't', output_dir: 'x' }, axes: {} })[0]!, /base.output_dir: .*set by the study/);
    assert.match(msgs({ base: { model: 'm', train_file: 't' }, axes: { method: ['bitfit', 'bitfit'] } })[0]!, /lists bitfit twice/);
    assert.match(msgs({ base: { model: 'm', train_file: 't' }, axes: { train_rows: [0] } })[0]!, /axes.train_rows\[0\]: .*positive integer/);
    assert.match(msgs({ base: { train_file: 't' }, axes: { seed: [0] } })[0]!, /"model" is required/);
    assert.match(msgs({ base: { model: 'm', train_file: 't' }, axes: {}, runs: 3 })[0]!, /runs: "runs" is not a study key/);
    // The engine agrees on what is a valid shape and what is not.
    assert.doesNotThrow(() => validateStudyConfig(parseCell(STUDY).study));
    assert.throws(() => validateStudyConfig({ base: { model: 'm' }, axes: { method: ['bitfit', 'bitfit'] } }), /twice/);
  });

  it('expands combinations in the engine order and builds run configs the way the engine does', () => {
    assert.deepEqual(combinations({ method: ['a', 'b'], seed: [0, 1] }), [{ method: 'a', seed: 0 }, { method: 'a', seed: 1 }, { method: 'b', seed: 0 }, { method: 'b', seed: 1 }]);
    assert.deepEqual(runConfigOf({ model: 'm', train_rows: 10 }, { method: { name: 'lora', r: 2, learning_rate: 5e-4, label: 'x' } }), { model: 'm', method: { name: 'lora', r: 2 }, learning_rate: 5e-4 });
  });

  it('offers a study: snippet on an empty cell only', () => {
    const first = suggestionsAt('', new Set(), true);
    const study = first.find((s) => s.label === 'study');
    assert.ok(study?.snippet);
    assert.equal(study!.insertText, STUDY_SNIPPET);
    assert.ok(!suggestionsAt('', new Set(['model']), false).some((s) => s.label === 'study'));
    // The snippet's defaults make a valid study once its placeholders are filled.
    const filled = STUDY_SNIPPET.replace(/\$\{\d+:([^}]*)\}/g, '$1').replace('$0', '');
    assert.deepEqual(validateStudyCell(parseCell(filled).study), []);
  });

  it('names the study folder after the study, else the notebook and cell', () => {
    assert.equal(studyFolderName('methods / sst2', 'exp.peftnb', 'abc123'), 'methods-sst2');
    assert.equal(studyFolderName(undefined, 'exp.peftnb', 'abc123'), 'exp-abc123');
  });
});

describe('study progress', () => {
  const fresh = (): StudyOutput => ({ v: 1, kind: 'study', name: 's', dir: '/s', status: 'starting', total: 0, done: 0, failures: [] });

  it('folds the CLI events: total and resumed runs, the current run and its step, failures, the end', () => {
    const o = fresh();
    applyStudyEvent(o, { type: 'study-started', runs: 9, done: 2, outDir: '/s' });
    assert.equal(studyProgressText(o), '2/9 runs');
    applyStudyEvent(o, { type: 'run-started', id: 'method-lora__seed-0', index: 3, runs: 9, resume: true });
    applyStudyEvent(o, { type: 'run-event', id: 'method-lora__seed-0', event: { v: 1, type: 'started', totalSteps: 20 } as never });
    applyStudyEvent(o, { type: 'run-event', id: 'method-lora__seed-0', event: { v: 1, type: 'step', step: 7 } as never });
    assert.equal(studyProgressText(o), '2/9 runs · method-lora__seed-0 (resumed) step 7/20');
    assert.equal(applyStudyEvent(o, { type: 'run-ended', id: 'method-lora__seed-0', index: 3, status: 'finished', seconds: 1 }), true, 'a run end may change the report');
    applyStudyEvent(o, { type: 'run-started', id: 'method-full__seed-0', index: 4, runs: 9, resume: false });
    applyStudyEvent(o, { type: 'run-ended', id: 'method-full__seed-0', index: 4, status: 'failed', reason: 'out of memory\nstack', seconds: 1 });
    assert.deepEqual(o.failures, [{ id: 'method-full__seed-0', reason: 'out of memory' }]);
    assert.equal(o.current, undefined);
    assert.equal(studyProgressText(o), '3/9 runs · 1 failed');
    applyStudyEvent(o, { type: 'study-ended', status: 'stopped', counts: { pending: 5, finished: 3, stopped: 0, failed: 1, interrupted: 0 }, report: { dir: '/s', files: [] } });
    assert.equal(o.status, 'stopped');
  });

  it('reads a study folder that is not running here from study.json and report.json', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-study-folder-'));
    try {
      assert.equal(studyOutputOfFolder(dir), undefined);
      fs.writeFileSync(path.join(dir, 'study.json'), JSON.stringify({ name: 'm', runs: [{ id: 'a' }, { id: 'b' }] }));
      assert.deepEqual({ ...studyOutputOfFolder(dir)!, dir: '' }, { v: 1, kind: 'study', name: 'm', dir: '', status: 'stopped', total: 2, done: 0, failures: [], report: undefined });
      fs.writeFileSync(path.join(dir, 'report.json'), JSON.stringify({ v: 1, name: 'm', metric: 'accuracy', axes: ['method'], counts: { finished: 2 }, total: 2, rows: [], charts: [], grids: [], notFinished: [] }));
      const o = studyOutputOfFolder(dir)!;
      assert.equal(o.status, 'finished');
      assert.equal(o.done, 2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
