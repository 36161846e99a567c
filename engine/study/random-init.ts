/**
 * `init_from_scratch: true` — the same architecture, randomly initialised: a copy of the model folder
 * (config and tokenizer files as they are) whose weights are re-drawn the way HF's `_init_weights` does
 * for BERT-family models: linear and embedding weights ~ N(0, initializer_range²), biases 0, LayerNorm
 * weight 1 and bias 0, the padding row of the word embeddings 0. Seeded, written once per seed into
 * `<study>/models/<name>-scratch-seed<S>/`, and trained exactly like the pretrained folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mulberry32 } from '../data';
import { writeSafetensors, type TensorToWrite } from '../io/safetensors';
import { loadStateDict } from '../io/weights';
import { readConfig } from '../model/config';

const WEIGHTS = /(model\.safetensors|pytorch_model\.bin)(\.index\.json)?$|-\d+-of-\d+\.(safetensors|bin)$/;

export function scratchModel(modelDir: string, seed: number, modelsDir: string): string {
  const out = path.join(modelsDir, `${path.basename(modelDir)}-scratch-seed${seed}`);
  if (fs.existsSync(path.join(out, 'model.safetensors'))) return out;
  const raw = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const std = typeof raw.initializer_range === 'number' ? raw.initializer_range : typeof raw.init_std === 'number' ? raw.init_std : 0.02;
  const padId = readConfig(modelDir).padTokenId;
  const { tensors } = loadStateDict(modelDir);
  const rng = mulberry32(seed);
  const normal = gaussian(rng);
  const written: TensorToWrite[] = [];
  for (const [name, t] of tensors) {
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16' && t.dtype !== 'F64') {
      written.push({ name, dtype: 'I32', shape: t.shape, data: t.data as Int32Array }); // position_ids and other buffers
      continue;
    }
    const data = new Float32Array(t.data.length);
    const isNorm = /(LayerNorm|layer_norm|_layernorm)\.(weight|bias)$|\.(gamma|beta)$/.test(name);
    if (isNorm) data.fill(name.endsWith('weight') || name.endsWith('gamma') ? 1 : 0);
    else if (name.endsWith('.bias')) data.fill(0);
    else {
      for (let i = 0; i < data.length; i++) data[i] = std * normal();
      if (/word_embeddings\.weight$/.test(name) && padId !== undefined && padId !== null && t.shape.length === 2) data.fill(0, padId * t.shape[1]!, (padId + 1) * t.shape[1]!);
    }
    written.push({ name, dtype: 'F32', shape: t.shape, data });
  }
  const tmp = `${out}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  for (const f of fs.readdirSync(modelDir)) {
    if (WEIGHTS.test(f) || !fs.statSync(path.join(modelDir, f)).isFile()) continue;
    fs.copyFileSync(path.join(modelDir, f), path.join(tmp, f));
  }
  writeSafetensors(path.join(tmp, 'model.safetensors'), written, { format: 'pt', init: `random (HF _init_weights), seed ${seed}` });
  fs.rmSync(out, { recursive: true, force: true });
  fs.renameSync(tmp, out);
  return out;
}

/** Standard normal draws (Box–Muller) from a uniform generator. */
function gaussian(rng: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = rng();
    const v = rng();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}
