/**
 * `peft-studio train` as a user (or the extension) runs it: a child process, JSON events on stdout, exit
 * codes (0 done, 1 failed, 2 usage, 130 stopped), Ctrl-C handled gracefully with a checkpoint, control lines
 * on stdin, and a process that exits when its run ends even while stdin stays open.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeEvent, type RunEvent, type StartedEvent } from '../../engine/protocol/events';
import { loadCheckpoint } from '../../engine/train/checkpoint';
import { removeModelDirs, type GeneratedModel } from '../helpers/make-model';
import { makeRows, makeTinyModel, ofType, readEventLines, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin', 'peft-studio.js');

after(() => {
  removeModelDirs();
  removeTempDirs();
});

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout lines that decode as events, in order. */
  events: RunEvent[];
  /** stdout lines that do not. */
  junk: string[];
}

/** Spawns the CLI; `onEvent` sees each JSON event as it arrives (to send signals or control lines). */
function cli(args: string[], opts: { stdin?: boolean; onEvent?: (e: RunEvent, child: ChildProcess) => void; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    const events: RunEvent[] = [];
    const junk: string[] = [];
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (!line) continue;
        const e = decodeEvent(line);
        if (!e) {
          junk.push(line);
          continue;
        }
        events.push(e);
        opts.onEvent?.(e, child);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`peft-studio ${args.join(' ')} did not exit within ${opts.timeoutMs ?? 60000} ms\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 60000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (partial) junk.push(partial);
      resolve({ code, signal, stdout, stderr, events, junk });
    });
  });
}

describe('peft-studio train (CLI)', () => {
  let gen: GeneratedModel;
  let dir: string;
  let trainFile: string;
  const common = () => ['--model', gen.dir, '--train', trainFile, '--per-device-train-batch-size', '4'];

  before(() => {
    gen = makeTinyModel({ seed: 12 });
    dir = tempDir();
    trainFile = writeTsv(path.join(dir, 'train.tsv'), makeRows(32, 14));
  });

  it('--json prints one decodable event per line on stdout, ending with finished; exit 0', async () => {
    const out = path.join(dir, 'json');
    const r = await cli(['train', ...common(), '--max-steps', '5', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.junk, [], 'stdout lines that are not events');
    assert.equal(r.events[0]!.type, 'started');
    assert.equal(r.events.at(-1)!.type, 'finished');
    assert.deepEqual(ofType(r.events, 'step').map((s) => s.step), [1, 2, 3, 4, 5]);
    // The same stream as the run's events.jsonl.
    const file = readEventLines(out);
    assert.deepEqual(file.bad, []);
    assert.deepEqual(file.events.map((e) => e.type), r.events.map((e) => e.type));
    assert.equal((r.events[0] as StartedEvent).config.output_dir, out);
  });

  it('a non-number --learning-rate is a usage error: exit 2, no run folder', async () => {
    const out = path.join(dir, 'bad-lr');
    const r = await cli(['train', ...common(), '--learning-rate', 'abc', '--out', out]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--learning-rate expects a number, got "abc"/);
    assert.equal(fs.existsSync(out), false);
  });

  it('without --train: exit 2 with the usage', async () => {
    const r = await cli(['train', '--model', gen.dir, '--max-steps', '1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--train .*is required/);
    assert.match(r.stderr, /usage: peft-studio train/);
  });

  it('SIGINT mid-run stops after the current step: stopped event, checkpoint at that step, exit 130', async () => {
    const out = path.join(dir, 'sigint');
    let sent = false;
    const r = await cli(['train', ...common(), '--max-steps', '100000', '--save-steps', '0', '--out', out, '--json'], {
      onEvent: (e, child) => {
        if (e.type === 'step' && e.step === 3 && !sent) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    assert.ok(sent, 'the run never reached step 3');
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /SIGINT: stopping after this step/);
    const end = r.events.at(-1)!;
    assert.equal(end.type, 'stopped');
    if (end.type !== 'stopped') return;
    assert.match(end.reason ?? '', /SIGINT/);
    assert.ok(end.step >= 3 && end.step < 100000);
    assert.equal(ofType(r.events, 'step').at(-1)!.step, end.step);
    const ck = ofType(r.events, 'checkpoint').at(-1)!;
    assert.equal(ck.step, end.step);
    assert.equal(loadCheckpoint(ck.path).state.step, end.step);
    assert.equal(readEventLines(out).events.at(-1)!.type, 'stopped');
  });

  it('--control stdin: pause, resume and stop lines (bare words and JSON) drive the run', async () => {
    const out = path.join(dir, 'stdin');
    const said: string[] = [];
    const say = (child: ChildProcess, line: string) => {
      said.push(line);
      child.stdin!.write(line + '\n');
    };
    const r = await cli(['train', ...common(), '--max-steps', '100000', '--save-steps', '0', '--out', out, '--json', '--control', 'stdin'], {
      stdin: true,
      onEvent: (e, child) => {
        if (e.type === 'step' && e.step === 2 && !said.length) say(child, 'pause');
        if (e.type === 'paused') setTimeout(() => say(child, '{"cmd":"resume"}'), 100);
        if (e.type === 'resumed') say(child, 'stop');
      },
    });
    assert.equal(r.code, 130, r.stderr);
    assert.deepEqual(said, ['pause', '{"cmd":"resume"}', 'stop']);
    const types = r.events.map((e) => e.type);
    const [p, q, s] = [types.indexOf('paused'), types.indexOf('resumed'), types.indexOf('stopped')];
    assert.ok(p > 0 && p < q && q < s, types.join(' '));
    assert.deepEqual(types.slice(p, q + 1), ['paused', 'resumed'], 'steps ran while paused');
    const paused = ofType(r.events, 'paused')[0]!;
    assert.ok(paused.step >= 2);
    assert.equal(ofType(r.events, 'resumed')[0]!.step, paused.step);
    const stopped = r.events[s]!;
    assert.equal(stopped.type === 'stopped' && stopped.reason, 'stopped on request');
    assert.ok(fs.existsSync(ofType(r.events, 'checkpoint').at(-1)!.path));
  });

  it('--control stdin with stdin left open: the process still exits when the run ends; --bias-terms and --no-train-head apply', async () => {
    const out = path.join(dir, 'open-stdin');
    const r = await cli(['train', ...common(), '--max-steps', '3', '--out', out, '--control', 'stdin', '--bias-terms', 'sparse', '--no-train-head'], {
      stdin: true, // never written to, never closed
      timeoutMs: 30000,
    });
    assert.equal(r.code, 0, r.stderr);
    // Without --json: nothing on stdout, the progress view on stderr.
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /trainable params: [\d,]+ \|\| all params: [\d,]+/);
    assert.match(r.stderr, /finished at step 3/);
    const started = readEventLines(out).events[0] as StartedEvent;
    const want = [...gen.tensors.keys()].filter((n) => /\.(attention\.self\.query|intermediate\.dense)\.bias$/.test(n)).sort();
    assert.deepEqual(started.trainable.tensors.map((t) => t.name).sort(), want);
  });

  it('a blow-up: exit 1 with the reason; the JSON stream keeps NaN/Infinity numbers decodable', async () => {
    const out = path.join(dir, 'nan');
    const r = await cli(['train', ...common(), '--max-steps', '10', '--learning-rate', '1e30', '--eval-split', '0.25', '--eval-strategy', 'steps', '--eval-steps', '1', '--out', out, '--json']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: loss became (NaN|-?Infinity) at step \d+/);
    assert.deepEqual(r.junk, []);
    const end = r.events.at(-1)!;
    assert.equal(end.type, 'failed');
    // After the first update the biases are ~1e30: evaluation's loss is no longer finite, and must stay a number.
    const evalLosses = ofType(r.events, 'eval').map((e) => e.loss);
    assert.ok(evalLosses.length >= 1);
    assert.ok(evalLosses.every((l) => typeof l === 'number'), `eval losses: ${JSON.stringify(evalLosses)}`);
    assert.ok(evalLosses.some((l) => !Number.isFinite(l)), `expected a non-finite eval loss: ${evalLosses}`);
  });
});
