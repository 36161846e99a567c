import { predict } from '../api/model-handle';
import { openModelSource } from '../api/run-models';
import { backendOption, parse, printNotices, UsageError } from './args';

const HELP = `usage: peft-studio predict <model-dir | run-dir | checkpoint-dir> [--adapter DIR] --text TEXT [--text-pair TEXT] [--json] [--backend NAME]

--adapter  a saved adapter (HF PEFT, AdapterHub, or \`export --adapter\`) put on the base model first.

Classifies one text (or sentence pair) and prints the label and its probabilities. A run folder predicts
with its best checkpoint (as eval --run picks it), a checkpoint folder with that checkpoint.
With --json: one JSON object on stdout with label, logits and probabilities.
`;

export async function predictCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(
    argv,
    { text: { type: 'string' }, 'text-pair': { type: 'string' }, json: { type: 'boolean' }, backend: { type: 'string' }, adapter: { type: 'string' } },
    HELP,
    1,
  );
  if (values.text === undefined) throw new UsageError(`--text is required\n\n${HELP}`);
  const h = await openModelSource(positionals[0]!, { backend: backendOption(values.backend), adapter: values.adapter as string | undefined });
  printNotices(h.used ? [`predicting with ${h.used}`, ...h.notices] : h.notices);
  const [p] = await predict(h, [{ text: values.text as string, textPair: values['text-pair'] as string | undefined }]);
  h.model.dispose();
  if (p!.truncated) process.stderr.write(`warning: input longer than the model's ${h.tokenizer.modelMaxLength} tokens; truncated\n`);
  if (values.json) {
    process.stdout.write(JSON.stringify({ label: p!.label ?? null, score: p!.score, logits: p!.logits, probabilities: p!.probabilities ?? null, truncated: p!.truncated }) + '\n');
    return;
  }
  if (p!.score !== undefined) {
    process.stdout.write(`score ${p!.score.toFixed(6)}\n`);
    return;
  }
  const labels = h.model.config.id2label;
  process.stdout.write(`${p!.label}  (p = ${p!.probabilities![p!.labelId!]!.toFixed(4)})\n`);
  p!.probabilities!.forEach((q, i) => process.stdout.write(`  ${(labels[i] ?? String(i)).padEnd(16)} ${q.toFixed(6)}\n`));
}
