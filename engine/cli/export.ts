import * as path from 'node:path';
import { initBackend } from '../backend/select';
import { exportAdapter, exportDelta, exportMerged } from '../train/export';
import { backendOption, parse, UsageError } from './args';

const HELP = `usage: peft-studio export <run-dir> [--checkpoint DIR] [--adapter OUT_DIR] [--delta OUT_DIR] [--merged OUT_DIR]

--adapter writes the method's files in its reference library's format: LoRA and the prompt methods as HF PEFT
          (adapter_config.json + adapter_model.safetensors: PeftModel.from_pretrained(base, OUT_DIR)), bottleneck
          adapters as AdapterHub (adapter_config.json + adapter_model.safetensors + head.safetensors), plus
          trainable_init.safetensors so \`train --adapter OUT_DIR\` continues exactly. BitFit and full
          fine-tuning have no adapter format: use --delta or --merged.

--delta   writes OUT_DIR/delta.safetensors (only the trained tensors, HF names) and delta.json (manifest).
          PyTorch: model.load_state_dict(safetensors.torch.load_file(".../delta.safetensors"), strict=False)
--merged  writes a complete HF model folder (config.json with id2label, model.safetensors, tokenizer files);
          LoRA is folded in (W += scale·B·A, PEFT's merge_and_unload). Bottleneck adapters and prompt methods
          cannot be merged into BERT's weights (the error says so): export them with --adapter.
Default checkpoint: the run's best (by its eval metric), else its latest.
`;

export async function exportCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(
    argv,
    { checkpoint: { type: 'string' }, adapter: { type: 'string' }, delta: { type: 'string' }, merged: { type: 'string' }, backend: { type: 'string' } },
    HELP,
    1,
  );
  if (!values.delta && !values.merged && !values.adapter) throw new UsageError(`give --adapter, --delta and/or --merged OUT_DIR\n\n${HELP}`);
  await initBackend({ backend: backendOption(values.backend) });
  const runDir = path.resolve(positionals[0]!);
  const ckpt = values.checkpoint as string | undefined;
  if (values.adapter) {
    const r = await exportAdapter(runDir, path.resolve(values.adapter as string), ckpt);
    process.stdout.write(`adapter: ${r.dir} (${(r.bytes / 1024).toFixed(1)} KiB: ${r.files.map((f) => path.basename(f)).join(', ')})\n`);
  }
  if (values.delta) {
    const r = await exportDelta(runDir, path.resolve(values.delta as string), ckpt);
    process.stdout.write(`delta: ${r.file} (${(r.bytes / 1024).toFixed(1)} KiB), manifest ${r.manifest}\n`);
  }
  if (values.merged) {
    const r = await exportMerged(runDir, path.resolve(values.merged as string), ckpt);
    process.stdout.write(`merged model: ${r.dir} (${(r.bytes / 2 ** 20).toFixed(1)} MiB of weights)\n`);
  }
}
