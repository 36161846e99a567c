/**
 * Whole model folders through the front door (`openModel` + `predict`, what `inspect` and `predict` run):
 * generated tiny BERT / RoBERTa / DistilBERT folders with config.json, weights or tokenizer damaged. A folder
 * that opens must predict finite probabilities that sum to 1 (or a finite score), with real label names.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openModel, predict } from '../../../engine/api/model-handle';
import { parseSafetensors, serializeSafetensors, type TensorToWrite } from '../../../engine/io/safetensors';
import { makeModelDir, removeModelDirs, type ModelFamily } from '../../helpers/make-model';
import { check, type FuzzKind, type Rand } from '../harness';
import { breakJsonText, hostileValue, mutateBytes, mutateJson } from '../mutate';
import { CONFIG_KEYS } from './config';
import { writeTokenizerFolder } from './tokenizer';

/** A fresh tiny model folder, damaged in one way (or none). Returns what was done. */
export function damagedModelFolder(rand: Rand): { dir: string; label: string } {
  const family = rand.pick(['bert', 'bert', 'roberta', 'distilbert'] as const) as ModelFamily;
  const gen = makeModelDir({
    family,
    layers: 1 + rand.int(2),
    hidden: 8,
    heads: 2,
    intermediate: 16,
    maxPositions: 24,
    numLabels: rand.pick([1, 2, 3]),
    arch: rand.chance(0.2) ? rand.pick(family === 'bert' ? ['BertModel', 'BertForMaskedLM'] : family === 'roberta' ? ['RobertaModel', 'RobertaForMaskedLM'] : ['DistilBertModel']) : undefined,
    seed: rand.int(1000),
  });
  const cfgFile = path.join(gen.dir, 'config.json');
  const wFile = path.join(gen.dir, 'model.safetensors');
  const what = rand.int(8);
  if (what === 0) return { dir: gen.dir, label: `${family}: intact` };
  if (what <= 2) {
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    fs.writeFileSync(cfgFile, rand.chance(0.1) ? breakJsonText(JSON.stringify(cfg), rand) : JSON.stringify(mutateJson(cfg, rand, CONFIG_KEYS)));
    return { dir: gen.dir, label: `${family}: config.json mutated: ${fs.readFileSync(cfgFile, 'utf8').slice(0, 160)}` };
  }
  if (what === 3) {
    const bytes = fs.readFileSync(wFile);
    fs.writeFileSync(wFile, mutateBytes(bytes, rand));
    return { dir: gen.dir, label: `${family}: model.safetensors bytes mutated` };
  }
  if (what === 4) {
    // Values: NaN / Inf / huge / tiny in one tensor, or a tensor dropped, renamed or reshaped.
    const { tensors } = parseSafetensors(fs.readFileSync(wFile), wFile);
    const names = [...tensors.keys()];
    const target = rand.pick(names);
    const out: TensorToWrite[] = [];
    let label = '';
    for (const [name, t] of tensors) {
      const dtype = t.data instanceof Float32Array ? 'F32' : 'I64';
      if (name !== target) {
        out.push({ name, dtype, shape: t.shape, data: t.data });
        continue;
      }
      const op = rand.int(4);
      if (op === 0 && t.data instanceof Float32Array && t.data.length) {
        const v = rand.pick([NaN, Infinity, -Infinity, 3e38, -3e38, 1e-45]);
        if (rand.chance(0.5)) t.data.fill(v);
        else t.data[rand.int(t.data.length)] = v;
        out.push({ name, dtype, shape: t.shape, data: t.data });
        label = `${name} holds ${v}`;
      } else if (op === 1) {
        label = `${name} dropped`;
      } else if (op === 2) {
        out.push({ name: `${name}.x`, dtype, shape: t.shape, data: t.data });
        label = `${name} renamed`;
      } else {
        const shape = t.shape.length > 1 ? [t.shape[1]!, t.shape[0]!] : [1, t.shape[0] ?? 1];
        out.push({ name, dtype, shape, data: t.data.length === shape[0]! * shape[1]! ? t.data : new Float32Array(shape[0]! * shape[1]!) });
        label = `${name} reshaped to [${shape}]`;
      }
    }
    fs.writeFileSync(wFile, serializeSafetensors(out));
    return { dir: gen.dir, label: `${family}: ${label}` };
  }
  if (what === 5) {
    for (const f of fs.readdirSync(gen.dir)) if (f !== 'config.json' && f !== 'model.safetensors') fs.rmSync(path.join(gen.dir, f));
    const label = writeTokenizerFolder(gen.dir, rand);
    return { dir: gen.dir, label: `${family}: tokenizer replaced (${label})` };
  }
  if (what === 6) {
    const victim = rand.pick(fs.readdirSync(gen.dir));
    if (rand.chance(0.5)) fs.rmSync(path.join(gen.dir, victim));
    else fs.writeFileSync(path.join(gen.dir, victim), rand.pick(['', 'version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n', '\u0000\u0000', JSON.stringify(hostileValue(rand))]));
    return { dir: gen.dir, label: `${family}: ${victim} removed or emptied` };
  }
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  const key = rand.pick(['num_hidden_layers', 'n_layers', 'hidden_size', 'dim', 'vocab_size', 'max_position_embeddings', 'layer_norm_eps', 'num_labels', 'intermediate_size', 'hidden_dim', 'type_vocab_size', 'pad_token_id', 'hidden_dropout_prob']);
  cfg[key] = rand.pick([1e12, 2 ** 31, 1e6, 4096, 0, -1, -5, 2.5, 1e308]);
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  return { dir: gen.dir, label: `${family}: ${key} = ${cfg[key]}` };
}

const TEXTS = ['a good film', 'the plot is bad .', 'hello world', 'x', 'é 你好 [MASK] <mask>'];

export const modelFolderKind: FuzzKind = {
  name: 'model folder',
  cases: 500,
  teardown: removeModelDirs,
  make(rand) {
    const { dir, label } = damagedModelFolder(rand);
    const pair = rand.chance(0.3);
    return {
      label,
      file: dir,
      async run() {
        const h = await openModel(dir);
        try {
          if (h.model.head !== 'sequence-classification') return;
          const preds = await predict(h, [{ text: rand.pick(TEXTS), textPair: pair ? rand.pick(TEXTS) : undefined }, { text: rand.pick(TEXTS) }]);
          for (const p of preds) {
            if (p.score !== undefined) {
              check(Number.isFinite(p.score), `score ${p.score}`);
              continue;
            }
            const probs = p.probabilities!;
            check(probs.length === h.model.config.numLabels && probs.every((q) => Number.isFinite(q) && q >= 0 && q <= 1), `probabilities ${probs}`);
            check(typeof p.label === 'string' && p.label !== '' && p.labelId! >= 0 && p.labelId! < probs.length, `label ${p.label} (${p.labelId})`);
          }
        } finally {
          h.model.dispose();
        }
      },
    };
  },
};
