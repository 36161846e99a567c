/**
 * config.json: the three families' configs as HF writes them, with fields replaced by hostile values, removed,
 * added or retyped, and as broken JSON text. A config that parses must describe a model that can exist.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CONFIG_LIMITS, parseConfig, readConfig, type EncoderConfig } from '../../../engine/model/config';
import { check, type FuzzKind } from '../harness';
import { breakJsonText, mutateJson } from '../mutate';

export const BASE_CONFIGS: Record<string, Record<string, unknown>> = {
  bert: {
    architectures: ['BertForSequenceClassification'], attention_probs_dropout_prob: 0.1, classifier_dropout: null, hidden_act: 'gelu',
    hidden_dropout_prob: 0.1, hidden_size: 32, initializer_range: 0.02, intermediate_size: 64, layer_norm_eps: 1e-12,
    max_position_embeddings: 64, model_type: 'bert', num_attention_heads: 4, num_hidden_layers: 2, pad_token_id: 0,
    position_embedding_type: 'absolute', type_vocab_size: 2, vocab_size: 120, id2label: { 0: 'neg', 1: 'pos' }, label2id: { neg: 0, pos: 1 },
  },
  roberta: {
    architectures: ['RobertaForSequenceClassification'], attention_probs_dropout_prob: 0.1, bos_token_id: 0, eos_token_id: 2, hidden_act: 'gelu',
    hidden_dropout_prob: 0.1, hidden_size: 32, initializer_range: 0.02, intermediate_size: 64, layer_norm_eps: 1e-5,
    max_position_embeddings: 66, model_type: 'roberta', num_attention_heads: 4, num_hidden_layers: 2, pad_token_id: 1, type_vocab_size: 1, vocab_size: 300,
  },
  distilbert: {
    activation: 'gelu', architectures: ['DistilBertForSequenceClassification'], attention_dropout: 0.1, dim: 32, dropout: 0.1, hidden_dim: 64,
    initializer_range: 0.02, max_position_embeddings: 64, model_type: 'distilbert', n_heads: 4, n_layers: 2, pad_token_id: 0,
    seq_classif_dropout: 0.2, vocab_size: 120, num_labels: 3,
  },
};

/** Every key a loader reads, so that mutations also add the fields a config left out. */
export const CONFIG_KEYS = [...new Set([...Object.values(BASE_CONFIGS).flatMap((c) => Object.keys(c)), 'problem_type', 'num_labels', 'is_decoder', 'add_cross_attention'])];

/** What a parsed config must satisfy for the model code to be sized from it safely. */
export function checkConfig(c: EncoderConfig): void {
  const sizes: Array<[string, number, number]> = [
    ['vocabSize', c.vocabSize, CONFIG_LIMITS.vocab_size], ['hiddenSize', c.hiddenSize, CONFIG_LIMITS.hidden_size],
    ['numHiddenLayers', c.numHiddenLayers, CONFIG_LIMITS.num_hidden_layers], ['intermediateSize', c.intermediateSize, CONFIG_LIMITS.intermediate_size],
    ['maxPositionEmbeddings', c.maxPositionEmbeddings, CONFIG_LIMITS.max_position_embeddings], ['numLabels', c.numLabels, CONFIG_LIMITS.num_labels],
  ];
  for (const [k, v, max] of sizes) check(Number.isInteger(v) && v >= 1 && v <= max, `${k} ${v}`);
  check(c.hiddenSize % c.numAttentionHeads === 0, 'hidden size not divisible by heads');
  check(Number.isInteger(c.typeVocabSize) && c.typeVocabSize >= 0 && c.typeVocabSize <= CONFIG_LIMITS.type_vocab_size, `typeVocabSize ${c.typeVocabSize}`);
  check(c.layerNormEps > 0 && c.layerNormEps < 1, `layerNormEps ${c.layerNormEps}`);
  for (const [k, p] of [['hidden', c.hiddenDropoutProb], ['attention', c.attentionProbsDropoutProb], ['classifier', c.classifierDropout]] as const) {
    check(typeof p === 'number' && p >= 0 && p < 1, `${k} dropout ${p}`);
  }
  check(Number.isInteger(c.padTokenId) && c.padTokenId >= 0 && c.padTokenId < c.vocabSize, `padTokenId ${c.padTokenId}`);
  const ids = Object.keys(c.id2label).map(Number).sort((a, b) => a - b);
  check(ids.length === c.numLabels && ids.every((id, i) => id === i), `id2label ids ${ids.slice(0, 5)} for ${c.numLabels} labels`);
  check(Object.values(c.id2label).every((l) => typeof l === 'string' && l !== ''), 'id2label names');
  check(typeof c.architecture === 'string' && c.architecture.toLowerCase().startsWith(c.family === 'distilbert' ? 'distilbert' : c.family), `architecture ${c.architecture} for ${c.family}`);
}

let dir = '';

export const configKind: FuzzKind = {
  name: 'config.json',
  cases: 2000,
  setup() {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-fuzz-config-'));
  },
  teardown() {
    fs.rmSync(dir, { recursive: true, force: true });
  },
  make(rand, i) {
    const family = rand.pick(Object.keys(BASE_CONFIGS));
    const base = BASE_CONFIGS[family]!;
    const file = path.join(dir, `c${i}`, 'config.json');
    if (rand.chance(0.15)) {
      // As text from disk: broken JSON, or a mutated config written out.
      const text = rand.chance(0.5) ? breakJsonText(JSON.stringify(base), rand) : JSON.stringify(mutateJson(base, rand, CONFIG_KEYS));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
      return { label: `${family} config.json text`, file, run: () => checkConfig(readConfig(path.dirname(file))) };
    }
    const raw = rand.chance(0.03) ? base : mutateJson(base, rand, CONFIG_KEYS);
    return {
      label: `${family}: ${JSON.stringify(raw)?.slice(0, 160)}`,
      file: 'config.json',
      run: () => {
        if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return; // readConfig refuses these before parseConfig
        checkConfig(parseConfig(raw as Record<string, unknown>, 'config.json'));
      },
    };
  },
};
