import { tf } from '../../backend/tf';
import { PeftStudioError } from '../../errors';
import type { Tokenizer } from '../../tokenizer/types';
import { readAdapterWeights, renameTensors } from '../adapter-files';
import { parseSettings } from '../settings';
import type { AdapterReader, MethodInfo, MethodSpec, PeftMethodFactory } from '../types';
import { P_TUNING_INFO, P_TUNING_V2_INFO, PREFIX_TUNING_INFO, PROMPT_TUNING_INFO, toPromptSettings, type PromptMethodName, type PromptSettings } from './config';
import { PEFT_HEAD_PREFIX, PROMPT_EMBEDDINGS, PromptMethod } from './method';
import { formatNearest, nearestTokens } from './nearest';

export * from './config';
export { PREFIX_MEASURE, PROMPT_EMBEDDINGS, PROMPT_MEASURE, PromptMethod } from './method';
export { formatNearest, nearestTokens, type NearestToken } from './nearest';

const TASK = (c: Record<string, unknown>, file: string) => {
  if (c.task_type !== undefined && c.task_type !== null && c.task_type !== 'SEQ_CLS') {
    throw new PeftStudioError('UNSUPPORTED', `${file}: task_type ${JSON.stringify(c.task_type)} — only sequence-classification adapters (SEQ_CLS) are supported`, file);
  }
  if (c.num_transformer_submodules !== undefined && c.num_transformer_submodules !== null && c.num_transformer_submodules !== 1) {
    throw new PeftStudioError('UNSUPPORTED', `${file}: num_transformer_submodules ${JSON.stringify(c.num_transformer_submodules)} (encoder–decoder prompts) does not apply to BERT-family encoders`, file);
  }
};

/** PEFT's prompt-learning file: `prompt_embeddings` and the classifier copy under `base_model.classifier.*`. */
function readPromptTensors(dir: string) {
  const { file, tensors } = readAdapterWeights(dir, ['adapter_model.safetensors', 'adapter_model.bin']);
  return renameTensors(tensors, (key) => {
    if (key === PROMPT_EMBEDDINGS) return key;
    if (key.startsWith(`${PEFT_HEAD_PREFIX}classifier.`)) return key.slice(PEFT_HEAD_PREFIX.length).replace(/\.modules_to_save\.default\./, '.');
    throw new PeftStudioError('WEIGHTS_MISMATCH', `${file}: key ${key} is not a PEFT prompt-learning key (expected ${PROMPT_EMBEDDINGS} and ${PEFT_HEAD_PREFIX}classifier.*)`, file);
  });
}

function reader(peftType: string, specFrom: (c: Record<string, unknown>, file: string) => MethodSpec): AdapterReader {
  return {
    detect: (c) => c.peft_type === peftType,
    specFrom(c, file) {
      TASK(c, file);
      return specFrom(c, file);
    },
    readTensors: (dir) => readPromptTensors(dir),
    baseModelOf: (c) => (typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : undefined),
  };
}

const int = (x: unknown) => (typeof x === 'number' ? x : undefined);

function factory(info: MethodInfo, method: PromptMethodName, adapter?: AdapterReader): PeftMethodFactory<{ settings: PromptSettings; spec: MethodSpec }> {
  return {
    info,
    parseSpec(raw) {
      const spec = parseSettings(info, raw);
      return { settings: toPromptSettings(method, spec), spec };
    },
    create: ({ settings, spec }) => new PromptMethod(settings, spec),
    adapter,
  };
}

export const promptTuning = factory(
  PROMPT_TUNING_INFO,
  'prompt-tuning',
  reader('PROMPT_TUNING', (c) => ({
    name: 'prompt-tuning',
    num_virtual_tokens: c.num_virtual_tokens,
    prompt_tuning_init: c.prompt_tuning_init ?? 'RANDOM',
    prompt_tuning_init_text: c.prompt_tuning_init_text ?? null,
  })),
);

export const pTuning = factory(
  P_TUNING_INFO,
  'p-tuning',
  reader('P_TUNING', (c) => ({
    name: 'p-tuning',
    num_virtual_tokens: c.num_virtual_tokens,
    encoder_hidden_size: int(c.encoder_hidden_size) ?? null,
    encoder_reparameterization_type: c.encoder_reparameterization_type ?? 'MLP',
    encoder_num_layers: int(c.encoder_num_layers) ?? 2,
    encoder_dropout: typeof c.encoder_dropout === 'number' ? c.encoder_dropout : 0,
  })),
);

export const prefixTuning = factory(
  PREFIX_TUNING_INFO,
  'prefix-tuning',
  reader('PREFIX_TUNING', (c) => ({
    name: 'prefix-tuning',
    num_virtual_tokens: c.num_virtual_tokens,
    encoder_hidden_size: int(c.encoder_hidden_size) ?? null,
    prefix_projection: c.prefix_projection === true,
  })),
);

/** Exports as PEFT's PREFIX_TUNING (prefix_projection false); such a file reads back as prefix-tuning. */
export const pTuningV2 = factory(P_TUNING_V2_INFO, 'p-tuning-v2');

/**
 * `inspect --adapter` for a prompt-tuning or P-tuning adapter: each virtual token's nearest vocabulary tokens
 * (cosine with the base model's word embeddings `words` [V, H]), from the saved `prompt_embeddings`. Lines to print.
 */
export function inspectPromptAdapter(dir: string, words: tf.Tensor, tokenizer?: Tokenizer, k = 5): string[] {
  const rows = readPromptTensors(dir).get(PROMPT_EMBEDDINGS);
  if (!rows) throw new PeftStudioError('WEIGHTS_MISMATCH', `${dir}: the adapter has no ${PROMPT_EMBEDDINGS}`, dir);
  if (rows.shape.length !== 2 || rows.shape[1] !== words.shape[1]) {
    throw new PeftStudioError('UNSUPPORTED', `${dir}: ${PROMPT_EMBEDDINGS} is [${rows.shape}] — prefix keys/values (or another model's prompt) have no nearest vocabulary tokens in a [${words.shape}] embedding table`, dir);
  }
  const now = nearestTokens(rows.data, rows.shape[0]!, words, k, tokenizer);
  return [`nearest vocabulary tokens of each virtual token (cosine, top ${k}):`, ...formatNearest({ now })];
}
