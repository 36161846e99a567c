/**
 * `peft-studio <command>`: the engine headless, for terminals, CI and remote GPU boxes.
 * Results go to stdout (one JSON object with --json); notices, warnings and errors go to stderr.
 */
import { BACKEND_NAMES } from '../backend/select';
import { reportError } from './report';
import { inspectCommand } from './inspect';
import { predictCommand } from './predict';
import { trainCommand } from './train';
import { evalCommand } from './eval';
import { exportCommand } from './export';
import { demoCommand } from './demo';
import { distillCommand } from './train';
import { studyCommand } from './study';

/** In the order a newcomer meets them: try it, train, measure, ship, look inside, use. */
const COMMANDS: Record<string, { run(argv: string[]): Promise<void>; usage: string; summary: string }> = {
  demo: { run: demoCommand, usage: 'demo [--model DIR|HUB_ID]', summary: 'fine-tune on the bundled sentiment examples (full fine-tuning, 3 epochs)' },
  train: { run: trainCommand, usage: 'train --model DIR|RUN --train FILE [--method M] [--out DIR] …', summary: 'training with any method (train --help for flags)' },
  distill: { run: distillCommand, usage: 'distill --teacher RUN|DIR --train FILE [--student-layers K] …', summary: 'a smaller, faster student of a trained model' },
  eval: { run: evalCommand, usage: 'eval (--run RUN_DIR | --model DIR|RUN) --data FILE', summary: 'loss and metrics on a labelled file' },
  export: { run: exportCommand, usage: 'export RUN_DIR [--adapter OUT] [--delta OUT] [--merged OUT]', summary: 'adapter files / delta / merged HF model' },
  study: { run: studyCommand, usage: 'study FILE [--out DIR]', summary: 'methods × seeds × data sizes, one report (study --help)' },
  inspect: { run: inspectCommand, usage: 'inspect <model-dir> [--adapter DIR] [--json]', summary: 'architecture, sizes, parameter counts per method' },
  predict: { run: predictCommand, usage: 'predict <model|run|ckpt> [--adapter DIR] --text T', summary: 'label and probabilities' },
};

export const GLOBAL_HELP = `usage: peft-studio <command> [options]

commands:
${Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(62)} ${c.summary}`).join('\n')}

common options:
  ${`--backend auto|${BACKEND_NAMES.join('|')}`.padEnd(58)} force a TF.js backend (or PEFT_STUDIO_BACKEND)
  ${'-h, --help'.padEnd(58)} help for a command
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(GLOBAL_HELP);
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`peft-studio: unknown command "${name}"\n\n${GLOBAL_HELP}`);
    return 2;
  }
  try {
    await cmd.run(rest);
    return 0;
  } catch (e) {
    return reportError(e);
  }
}

main(process.argv.slice(2)).then((code) => {
  // A command may have set its own exit code (130 for a stopped run): never overwrite a failure with 0.
  if (code !== 0 || !process.exitCode) process.exitCode = code;
});
