/**
 * Adapter folders: HF PEFT (`adapter_config.json` + `adapter_model.safetensors`) and AdapterHub
 * (`adapter_config.json` + `pytorch_adapter.bin`), taken from the shared fixtures and damaged. Every case goes
 * through the layers any adapter loader reads them with (the JSON reader, the safetensors reader, the strict
 * torch reader), then through each loader registered in ADAPTER_LOADERS.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DTYPE_SIZE, readSafetensors } from '../../../engine/io/safetensors';
import { readTorchBin } from '../../../engine/io/torch-pickle';
import { readAdapter } from '../../../engine/peft/adapter-import';
import { readJsonObject } from '../../../engine/tokenizer/config';
import { sharedPath } from '../../parity/reference';
import { check, type FuzzKind } from '../harness';
import { breakJsonText, mutateBytes, mutateJson } from '../mutate';

/**
 * The adapter-folder loaders under fuzz. Each takes a folder holding adapter_config.json and the adapter's
 * weights, and must return (success) or throw a PeftStudioError naming a file in that folder. A loader added
 * to the engine is registered here, and from then on every case of this kind runs through it too.
 */
export const ADAPTER_LOADERS: Array<{ name: string; load(dir: string): unknown | Promise<unknown> }> = [
  {
    // The adapter's config picks the method and its settings; the method's reader takes its tensors.
    name: 'readAdapter + readTensors',
    load(dir) {
      const a = readAdapter(dir);
      const tensors = a.factory.adapter!.readTensors(dir, a.config);
      for (const [name, t] of tensors) {
        const numel = t.shape.reduce((x, y) => x * y, 1);
        check(t.data.length === numel, `${name}: ${t.data.length} values for [${t.shape}]`);
      }
    },
  },
];

const SOURCES: Array<[string, string]> = [
  ['peft-tiny', 'lora_all'],
  ['peft-tiny', 'lora_qv'],
  ['peft-tiny', 'prefix_tuning'],
  ['peft-tiny', 'prompt_tuning'],
  ['peft-tiny', 'p_tuning'],
  ['adapters-tiny', 'seq_bn'],
  ['adapters-tiny', 'par_bn'],
  ['adapters-tiny', 'double_seq_bn'],
];
const WEIGHT_FILES = ['adapter_model.safetensors', 'pytorch_adapter.bin'];
const CONFIG_KEYS = ['peft_type', 'task_type', 'r', 'lora_alpha', 'lora_dropout', 'target_modules', 'num_virtual_tokens', 'base_model_name_or_path', 'config', 'reduction_factor', 'non_linearity', 'architecture', 'name', 'version'];

let root = '';
const bases: Array<{ name: string; config: string; weights: Array<[string, Uint8Array]> }> = [];

export const adapterKind: FuzzKind = {
  name: 'adapter folder',
  cases: 600,
  setup() {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-fuzz-adapter-'));
    if (bases.length) return;
    for (const [fixture, name] of SOURCES) {
      const dir = path.join(sharedPath('fixtures'), fixture, name);
      if (!fs.existsSync(path.join(dir, 'adapter_config.json'))) continue;
      const weights = WEIGHT_FILES.filter((f) => fs.existsSync(path.join(dir, f))).map((f) => [f, fs.readFileSync(path.join(dir, f))] as [string, Uint8Array]);
      bases.push({ name: `${fixture}/${name}`, config: fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'), weights });
    }
    if (!bases.length) throw new Error('no adapter fixtures found under ../shared/fixtures (peft-tiny, adapters-tiny)');
  },
  teardown() {
    fs.rmSync(root, { recursive: true, force: true });
  },
  make(rand, i) {
    const base = rand.pick(bases);
    const dir = path.join(root, `a${i}`);
    fs.mkdirSync(dir);
    const what = rand.int(5);
    const config = what === 0 ? breakJsonText(base.config, rand) : what === 1 ? JSON.stringify(mutateJson(JSON.parse(base.config), rand, CONFIG_KEYS)) : base.config;
    fs.writeFileSync(path.join(dir, 'adapter_config.json'), config);
    for (const [f, bytes] of base.weights) {
      const damaged = what >= 2 && rand.chance(0.8) ? mutateBytes(bytes, rand, rand.chance(0.5) ? [0, Math.min(bytes.length, 512)] : undefined) : bytes;
      if (!(what === 4 && rand.chance(0.3))) fs.writeFileSync(path.join(dir, f), damaged);
    }
    return {
      label: `${base.name}: ${['config text broken', 'config mutated', 'weights damaged', 'weights damaged', 'weights damaged or missing'][what]}`,
      file: dir,
      async run() {
        readJsonObject(path.join(dir, 'adapter_config.json'));
        for (const f of WEIGHT_FILES) {
          const file = path.join(dir, f);
          if (!fs.existsSync(file)) continue;
          const tensors = f.endsWith('.safetensors') ? readSafetensors(file).tensors : readTorchBin(file);
          let bytes = 0;
          for (const [name, t] of tensors) {
            const numel = t.shape.reduce((a, b) => a * b, 1);
            check(t.data.length === numel, `${name}: ${t.data.length} values for [${t.shape}]`);
            bytes += numel * DTYPE_SIZE[t.dtype];
          }
          if (f.endsWith('.safetensors')) {
            const size = fs.statSync(file).size;
            const n = Number(fs.readFileSync(file).readBigUInt64LE(0));
            check(8 + n + bytes === size, `tensors cover ${bytes} of ${size - 8 - n} data bytes`);
          }
        }
        for (const loader of ADAPTER_LOADERS) await loader.load(dir);
      },
    };
  },
};
