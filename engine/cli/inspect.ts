import { describeBackendAttempts, describeBackendBrief } from '../backend/describe';
import { initBackend } from '../backend/select';
import { openModel } from '../api/model-handle';
import { formatTrainable, summarize } from '../api/summary';
import { inspectPromptAdapter } from '../peft/prompt';
import { backendOption, parse, printNotices } from './args';

const HELP = `usage: peft-studio inspect <model-dir> [--adapter DIR] [--json] [--backend NAME]
       peft-studio inspect --backends [--json] [--backend NAME]

Shows the architecture, sizes, parameter count, biases per layer, and what each method would train
(HF PEFT's print_trainable_parameters format). With --adapter: the adapter's method, settings and counts.
--backends: every TF.js backend tried, fastest first, and why each one before the active one was skipped.
`;

export async function inspectCommand(argv: string[]): Promise<void> {
  const backends = argv.includes('--backends');
  const { values, positionals } = parse(argv, { json: { type: 'boolean' }, backend: { type: 'string' }, adapter: { type: 'string' }, backends: { type: 'boolean' } }, HELP, backends ? 0 : 1);
  if (backends) {
    const r = await initBackend({ backend: backendOption(values.backend) });
    if (values.json) process.stdout.write(JSON.stringify(r) + '\n');
    else process.stdout.write([`backend: ${r.active}${r.forced ? ' (forced)' : ''}`, ...describeBackendAttempts(r)].join('\n') + '\n');
    return;
  }
  const h = await openModel(positionals[0]!, { backend: backendOption(values.backend), adapter: values.adapter as string | undefined });
  const adapter = h.method ? { method: h.method.name, settings: h.method.spec, ...h.method.describe() } : undefined;
  // What a soft prompt "means": each virtual token's nearest vocabulary tokens (prompt tuning, P-tuning).
  const nearest =
    values.adapter && h.method && ['prompt-tuning', 'p-tuning'].includes(h.method.name)
      ? inspectPromptAdapter(values.adapter as string, h.model.params.get(`${h.model.basePrefix}embeddings.word_embeddings.weight`), h.tokenizer)
      : [];
  const s = summarize(h.model);
  printNotices(h.notices);
  if (values.json) {
    process.stdout.write(JSON.stringify({ ...s, adapter: adapter && { ...adapter, nearest: nearest.length ? nearest : undefined }, backend: h.backend, tokenizer: { kind: h.tokenizer.kind, vocabSize: h.tokenizer.vocabSize } }) + '\n');
  } else {
    const lines = [
      `model        ${h.dir}`,
      `architecture ${s.architecture} (${s.family}), loaded as ${s.head === 'none' ? 'bare encoder' : 'sequence classifier'}`,
      `layers       ${s.layers} × hidden ${s.hiddenSize}, ${s.heads} heads, intermediate ${s.intermediateSize}`,
      `vocabulary   ${s.vocabSize.toLocaleString('en-US')} (${h.tokenizer.kind} tokenizer), max positions ${s.maxPositions}`,
      s.head === 'none' ? undefined : `labels       ${s.numLabels}: ${s.labels.join(', ')}`,
      `parameters   ${s.parameters.toLocaleString('en-US')}`,
      `biases       ${s.biases.count} tensors, ${s.biases.parameters.toLocaleString('en-US')} parameters`,
      ...Object.entries(s.biases.byRow).map(([row, list]) => `  ${row.padEnd(11)} ${list.map((b) => `${b.kind}[${b.size}]`).join(' ')}`),
      describeBackendBrief(h.backend),
      '',
      ...s.bitfit.flatMap((v) => [`${v.label}:`, `  ${formatTrainable(v)}`]),
      ...s.methods.flatMap((v) => [`${v.label}:`, `  ${formatTrainable(v)}`]),
      ...(adapter
        ? ['', `adapter      ${values.adapter} — ${adapter.method} ${JSON.stringify(Object.fromEntries(Object.entries(adapter.settings).filter(([k]) => k !== 'name')))}`, `  ${formatTrainable({ trainable: adapter.trainable, total: adapter.total, percent: adapter.percent })}`, ...nearest]
        : []),
    ];
    process.stdout.write(lines.filter((l) => l !== undefined).join('\n') + '\n');
  }
  h.model.dispose();
}
