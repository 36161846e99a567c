/**
 * `peft-studio study` as a user on a headless box runs it: a child process on a generated tiny BERT, the
 * report and results.csv at the end, Ctrl-C (SIGINT) stopping with exit 130 after a checkpoint, and the same
 * command resuming without redoing finished runs. Bad study files fail before anything runs, naming the key.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeModelDirs, type GeneratedModel } from '../helpers/make-model';
import { makeRows, makeTinyModel, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';
import { CLI_BIN as BIN, REPO_ROOT as ROOT, runCli, type CliRun } from '../helpers/cli';


type Run = CliRun;

// The study runs on the backend the test process was given.
const cli = (...args: string[]): Promise<Run> => runCli(args, { inheritBackend: true });

let gen: GeneratedModel;
let dir: string;
let studyFile: string;
before(() => {
  gen = makeTinyModel({ seed: 8, dropout: false });
  dir = tempDir('peft-study-cli-');
  writeTsv(path.join(dir, 'train.tsv'), makeRows(48, 4));
  writeTsv(path.join(dir, 'dev.tsv'), makeRows(16, 5));
  studyFile = path.join(dir, 'study.yaml');
  fs.writeFileSync(
    studyFile,
    [
      `base: { model: ${JSON.stringify(gen.dir)}, train_file: train.tsv, eval_file: dev.tsv, max_steps: 6, per_device_train_batch_size: 8, eval_strategy: steps, eval_steps: 6, save_steps: 2, bias_change_steps: 3 }`,
      'axes:',
      '  seed: [0, 1]',
      '  method: [full, bitfit, { name: lora, r: 2, label: lora-r2 }]',
      '',
    ].join('\n'),
  );
});
after(() => {
  removeModelDirs();
  removeTempDirs();
});

describe('peft-studio study', () => {
  it('--dry-run lists the runs; a bad study file fails naming the key, before any run folder exists', async () => {
    const dry = await cli('study', studyFile, '--dry-run', '--out', path.join(dir, 'dry'));
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^6 runs into /);
    assert.match(dry.stdout, /method-lora-r2__seed-1/);
    assert.equal(fs.existsSync(path.join(dir, 'dry')), false);
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, `base: { model: ${JSON.stringify(gen.dir)}, train_file: train.tsv }\naxes: { method: [bitfit, not-a-method], seed: [0] }\n`);
    const r = await cli('study', bad, '--out', path.join(dir, 'bad-out'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: study \(run method-not-a-method__seed-0\): .*unknown method "not-a-method"/);
    assert.equal(fs.existsSync(path.join(dir, 'bad-out')), false);
  });

  it('Ctrl-C stops after a step with a checkpoint (exit 130); the same command resumes and writes the report', async () => {
    const out = path.join(dir, 'out');
    const child = spawn(process.execPath, [BIN, 'study', studyFile, '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // Once the second run is under way (the first has finished), interrupt.
      if (!sent && /\[2\/6\]/.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 130, stderr);
    assert.match(stderr, /SIGINT: stopping the study after this step/);
    // The run under way when the signal came stops with a checkpoint; the ones before it finished.
    const counts = /6 runs \((\d+) finished, 1 stopped(?:, (\d+) pending)?\)/.exec(fs.readFileSync(path.join(out, 'report.md'), 'utf8'));
    assert.ok(counts, 'report after the stop');
    const finished = Number(counts[1]);
    assert.equal(finished + Number(counts[2] ?? 0), 5);
    const firstEvents = fs.readFileSync(path.join(out, 'runs', 'method-full__seed-0', 'events.jsonl'), 'utf8');

    const again = await cli('study', studyFile, '--out', out);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`study: 6 runs \\(${finished} already finished\\)`));
    assert.match(again.stderr, /\(resuming from its checkpoint\)/);
    assert.doesNotMatch(again.stderr, /\] method-full__seed-0\n/, 'the finished run is not redone');
    assert.equal(fs.readFileSync(path.join(out, 'runs', 'method-full__seed-0', 'events.jsonl'), 'utf8'), firstEvents);
    assert.match(again.stderr, /study finished: 6 finished/);
    const csv = fs.readFileSync(path.join(out, 'results.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length, 7);
    assert.deepEqual(csv[0]!.split(',').slice(0, 4), ['seed', 'method', 'run', 'status']);
    assert.ok(csv.slice(1).every((l) => l.split(',')[3] === 'finished'));
    for (const f of ['report.md', 'metric-vs-params.svg', 'what-moved.svg', 'study.json']) assert.ok(fs.existsSync(path.join(out, f)), f);
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    for (const m of ['full', 'bitfit', 'lora-r2']) assert.match(md, new RegExp(`\\| ${m} \\| [^|]*± [^|]* \\| 2/2 \\|`));

    const report = await cli('study', studyFile, '--out', out, '--report');
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /report\.md/);
  });
});
