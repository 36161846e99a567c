/**
 * The CLI's commands (`inspect`, `predict`, `train`) run in-process on damaged model folders and datasets,
 * with hostile flag values, and ended the way `peft-studio` ends them (report.ts). What a user sees must be
 * a result or one `error:` / usage message: never "internal error" or a stack trace.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspectCommand } from '../../../engine/cli/inspect';
import { predictCommand } from '../../../engine/cli/predict';
import { reportError } from '../../../engine/cli/report';
import { PeftStudioError } from '../../../engine/errors';
import { trainCommand } from '../../../engine/cli/train';
import { removeModelDirs, makeModelDir, type GeneratedModel } from '../../helpers/make-model';
import { makeRows, writeTsv } from '../../helpers/train-fixtures';
import { check, Nonsense, type FuzzKind, type Rand } from '../harness';
import { hostileValue } from '../mutate';
import { damagedModelFolder } from './model-folder';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one command as bin/peft-studio would, capturing what it prints. */
export async function runCli(command: (argv: string[]) => Promise<void>, argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const write = { out: process.stdout.write, err: process.stderr.write };
  const signals = { int: process.listeners('SIGINT'), term: process.listeners('SIGTERM') };
  process.stdout.write = ((c: string | Uint8Array) => out.push(String(c)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => err.push(String(c)) > 0) as typeof process.stderr.write;
  const exitBefore = process.exitCode;
  process.exitCode = undefined;
  let code = 0;
  try {
    await command(argv);
    code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    code = reportError(e);
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
    process.exitCode = exitBefore;
    // `train` keeps its signal handlers (a late Ctrl-C must still stop cleanly); one process runs many here.
    for (const l of process.listeners('SIGINT')) if (!signals.int.includes(l)) process.off('SIGINT', l);
    for (const l of process.listeners('SIGTERM')) if (!signals.term.includes(l)) process.off('SIGTERM', l);
  }
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** The CLI's contract on any input: exit 0, 1 or 2, and no crash shown to the user. */
export function checkCliRun(r: CliRun, file?: string): void {
  if (/internal error|\n\s+at .*\(.*:\d+:\d+\)/.test(r.stderr)) {
    throw new Error(`the CLI crashed (exit ${r.code}): ${r.stderr.slice(0, 600)}`);
  }
  check([0, 1, 2].includes(r.code), `exit code ${r.code}`);
  if (r.code === 1 && !/^error: /m.test(r.stderr) && !/^failed /m.test(r.stderr)) throw new Error(`exit 1 without an error message: ${r.stderr.slice(0, 300)}`);
  if (r.code === 1 && file && /^error: /m.test(r.stderr) && !r.stderr.includes(file)) {
    throw new Nonsense(`the CLI's error does not name ${file}: ${r.stderr.slice(0, 300)}`);
  }
}

/** A clean refusal (exit 1 or 2 with a message) counts as the command's error for the tally. */
function refusedIfFailed(r: CliRun, file?: string): void {
  if (r.code !== 0) throw new PeftStudioError('BAD_INPUT', `${file ?? 'command'} refused (exit ${r.code}): ${r.stderr.trim().split('\n').pop()?.slice(0, 200)}`);
}

const FLAGS: Array<[string, string[]]> = [
  ['--learning-rate', ['1e6', '-1', '0', 'abc', 'NaN', '1e-3', 'Infinity']],
  ['--max-length', ['0', '1', '-3', '1e9', '2.5', '8']],
  ['--per-device-train-batch-size', ['0', '-1', '1.5', '1e9', '3']],
  ['--max-grad-norm', ['-1', '0', '1e30']],
  ['--eval-split', ['0.5', '1', '-0.1', '0.99']],
  ['--warmup-ratio', ['2', '-1', '0.5']],
  ['--seed', ['-1', '1.5', '1e20']],
  ['--bias-terms', ['nope', '/[/', 'all', 'query,', ',', '*', 'pooler']],
  ['--on-bad-row', ['skip', 'fail', 'ignore']],
  ['--label-column', ['nope', '7', 'sentence']],
  ['--text-column', ['label', '99']],
  ['--lr-scheduler-type', ['cosine', 'exp']],
  ['--per-device-train-micro-batch-size', ['auto', '0', 'x', '2']],
];

let root = '';
let tiny: GeneratedModel;

export const cliKind: FuzzKind = {
  name: 'CLI (inspect, predict, train)',
  cases: 300,
  setup() {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-fuzz-cli-'));
    tiny = makeModelDir({ family: 'bert', layers: 1, hidden: 8, heads: 2, intermediate: 16, maxPositions: 24, seed: 3 });
  },
  teardown() {
    fs.rmSync(root, { recursive: true, force: true });
    removeModelDirs();
  },
  make(rand: Rand, i) {
    const which = rand.int(3);
    if (which < 2) {
      const { dir, label } = damagedModelFolder(rand);
      const json = rand.chance(0.5) ? ['--json'] : [];
      const text = rand.pick(['a good film', 'x', 'é', '   ', 'hello world']);
      const argv = which === 0 ? ['inspect', dir, ...json] : ['predict', dir, '--text', text, ...json];
      // A blank --text is the user's mistake, not the folder's: its error names no file.
      const file = text.trim() || which === 0 ? dir : undefined;
      return {
        label: `${argv[0]}: ${label}`,
        file,
        async run() {
          const r = await runCli(which === 0 ? inspectCommand : predictCommand, argv.slice(1));
          checkCliRun(r, file);
          refusedIfFailed(r, file);
          if (r.code === 0 && argv[0] === 'predict' && json.length) {
            const p = JSON.parse(r.stdout);
            check(Array.isArray(p.logits) && p.logits.every(Number.isFinite), `logits ${p.logits}`);
            if (p.probabilities) check(p.probabilities.every((q: number) => Number.isFinite(q) && q >= 0 && q <= 1), `probabilities ${p.probabilities}`);
          }
          if (r.code === 0 && argv[0] === 'predict' && !json.length) check(!/undefined|NaN/.test(r.stdout), `printed ${r.stdout}`);
        },
      };
    }
    // train: a damaged dataset (or good data with hostile flags) on a tiny intact model, one step.
    const file = path.join(root, `train${i}.tsv`);
    writeTsv(file, makeRows(8 + rand.int(16), rand.int(100)));
    if (rand.chance(0.6)) {
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      for (let k = 1 + rand.int(3); k > 0; k--) {
        const at = 1 + rand.int(lines.length - 2);
        lines[at] = rand.chance(0.7) ? `${lines[at]!.split('\t')[0]}\t${rand.pick(['0.5', '100000000', '1e308', 'maybe', 'NaN', '', '-1', '3'])}` : String(hostileValue(rand));
      }
      fs.writeFileSync(file, lines.join('\n'));
    }
    const flags: string[] = [];
    for (let k = rand.int(3); k > 0; k--) {
      const [flag, values] = rand.pick(FLAGS);
      flags.push(flag, rand.pick(values));
    }
    const argv = ['--model', tiny.dir, '--train', file, '--max-steps', '1', '--per-device-train-batch-size', '4', '--eval-split', '0', '--save-steps', '0', '--out', path.join(root, `run${i}`), ...flags];
    return {
      label: `train ${flags.join(' ')} on ${fs.readFileSync(file, 'utf8').split('\n').slice(1, 4).join(' | ').slice(0, 80)}`,
      async run() {
        const r = await runCli(trainCommand, argv);
        checkCliRun(r);
        refusedIfFailed(r);
      },
    };
  },
};
