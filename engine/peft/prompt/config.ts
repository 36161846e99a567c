/**
 * The prompt family's settings, with HF PEFT's config names and defaults: prompt tuning (PromptTuningConfig),
 * P-tuning (PromptEncoderConfig), prefix tuning (PrefixTuningConfig) and P-tuning v2 (prefix tuning without
 * a projection, under its own name). No TF.js here: the catalog and the extension host import it.
 */
import { PeftStudioError } from '../../errors';
import type { MethodInfo, MethodSpec, SettingSpec } from '../types';

export type PromptMethodName = 'prompt-tuning' | 'p-tuning' | 'prefix-tuning' | 'p-tuning-v2';
/** Where the virtual tokens act: in front of the words (prompt tuning, P-tuning) or as per-layer keys/values. */
export type PromptKind = 'prompt' | 'p-tuning' | 'prefix';

export interface PromptSettings {
  method: PromptMethodName;
  kind: PromptKind;
  numVirtualTokens: number;
  /** Prompt tuning: RANDOM (N(0, 1)) or TEXT (the word embeddings of `initText`'s tokens). */
  init: 'RANDOM' | 'TEXT';
  initText: string | null;
  /** P-tuning's MLP width, prefix tuning's projection width; null: the model's hidden size (PEFT's default). */
  encoderHiddenSize: number | null;
  encoderNumLayers: number;
  encoderDropout: number;
  reparameterization: 'MLP';
  prefixProjection: boolean;
}

const NUM_VIRTUAL_TOKENS: SettingSpec = {
  key: 'num_virtual_tokens',
  flag: 'num-virtual-tokens',
  type: 'integer',
  default: 20,
  min: 1,
  ask: true,
  description: 'Virtual tokens: prompt rows in front of the words (prompt tuning, P-tuning) or prefix keys/values per layer (prefix tuning).',
};

const ENCODER_HIDDEN_SIZE: SettingSpec = {
  key: 'encoder_hidden_size',
  flag: 'encoder-hidden-size',
  type: 'integer',
  default: null,
  min: 1,
  description: "Width of the reparameterisation (P-tuning's MLP, prefix tuning's projection); the model's hidden size when unset.",
};

export const PROMPT_TUNING_INFO: MethodInfo = {
  name: 'prompt-tuning',
  title: 'Prompt tuning',
  description: 'trainable virtual-token embeddings in front of the input (HF PEFT PromptTuningConfig); cannot be merged',
  merge: 'a prompt is extra input rows, not a change of any weight, so it cannot be folded into the model (export --adapter instead)',
  adapterFormat: 'peft',
  settings: [
    NUM_VIRTUAL_TOKENS,
    { key: 'prompt_tuning_init', flag: 'prompt-tuning-init', type: 'enum', values: ['RANDOM', 'TEXT'], default: 'RANDOM', ask: true, description: "RANDOM: N(0, 1) rows; TEXT: the model's own word embeddings of prompt_tuning_init_text's tokens, repeated or cut to num_virtual_tokens." },
    { key: 'prompt_tuning_init_text', flag: 'prompt-tuning-init-text', type: 'string', default: null, description: 'The text whose token embeddings start the prompt (with prompt_tuning_init TEXT), e.g. "Classify the sentiment of this review:".' },
  ],
};

export const P_TUNING_INFO: MethodInfo = {
  name: 'p-tuning',
  title: 'P-tuning',
  description: 'virtual tokens made by a small MLP prompt encoder, in front of the input (HF PEFT PromptEncoderConfig); cannot be merged',
  merge: 'a prompt is extra input rows, not a change of any weight, so it cannot be folded into the model (export --adapter instead)',
  adapterFormat: 'peft',
  settings: [
    NUM_VIRTUAL_TOKENS,
    ENCODER_HIDDEN_SIZE,
    { key: 'encoder_reparameterization_type', flag: 'encoder-reparameterization-type', type: 'enum', values: ['MLP', 'LSTM'], default: 'MLP', description: 'The prompt encoder: MLP (Linear–ReLU–Linear–ReLU–Linear). LSTM is refused: use MLP.' },
    { key: 'encoder_num_layers', flag: 'encoder-num-layers', type: 'integer', default: 2, min: 1, description: "LSTM layers (PEFT ignores it for MLP, which always has its fixed layers)." },
    { key: 'encoder_dropout', flag: 'encoder-dropout', type: 'number', default: 0, min: 0, max: 1, exclusiveMax: true, description: "LSTM dropout (PEFT's MLP encoder has no dropout)." },
  ],
};

export const PREFIX_TUNING_INFO: MethodInfo = {
  name: 'prefix-tuning',
  title: 'Prefix tuning',
  description: 'trainable keys and values in front of every attention layer (HF PEFT PrefixTuningConfig); BERT/RoBERTa; cannot be merged',
  merge: 'prefix keys and values are extra attention entries, not a change of any weight, so they cannot be folded into the model (export --adapter instead)',
  adapterFormat: 'peft',
  settings: [
    NUM_VIRTUAL_TOKENS,
    ENCODER_HIDDEN_SIZE,
    { key: 'prefix_projection', flag: 'prefix-projection', type: 'boolean', default: false, description: 'Make the prefixes with Linear–tanh–Linear from [n, hidden] embeddings (off: train the [n, 2·layers·hidden] prefixes directly).' },
  ],
};

export const P_TUNING_V2_INFO: MethodInfo = {
  name: 'p-tuning-v2',
  title: 'P-tuning v2',
  description: 'deep prompts: prefix tuning without a projection (PEFT PrefixTuningConfig, prefix_projection false); cannot be merged',
  merge: PREFIX_TUNING_INFO.merge,
  adapterFormat: 'peft',
  settings: [NUM_VIRTUAL_TOKENS],
};

export const PROMPT_INFOS = [PROMPT_TUNING_INFO, P_TUNING_INFO, PREFIX_TUNING_INFO, P_TUNING_V2_INFO] as const;

/** Settings from a validated spec (parseSettings has checked types and bounds). */
export function toPromptSettings(method: PromptMethodName, spec: MethodSpec): PromptSettings {
  const kind: PromptKind = method === 'prompt-tuning' ? 'prompt' : method === 'p-tuning' ? 'p-tuning' : 'prefix';
  const s: PromptSettings = {
    method,
    kind,
    numVirtualTokens: spec.num_virtual_tokens as number,
    init: ((spec.prompt_tuning_init as string | undefined) ?? 'RANDOM') as PromptSettings['init'],
    initText: (spec.prompt_tuning_init_text as string | null | undefined) ?? null,
    encoderHiddenSize: (spec.encoder_hidden_size as number | null | undefined) ?? null,
    encoderNumLayers: (spec.encoder_num_layers as number | undefined) ?? 2,
    encoderDropout: (spec.encoder_dropout as number | undefined) ?? 0,
    reparameterization: 'MLP',
    prefixProjection: method === 'prefix-tuning' ? (spec.prefix_projection as boolean) : false,
  };
  if (method === 'p-tuning' && spec.encoder_reparameterization_type === 'LSTM') {
    throw new PeftStudioError(
      'UNSUPPORTED',
      'method p-tuning: encoder_reparameterization_type LSTM is not supported (its bidirectional LSTM prompt encoder is not implemented exactly); use MLP, the default',
    );
  }
  if (s.init === 'TEXT' && (s.initText === null || s.initText.trim() === '')) {
    throw new PeftStudioError('BAD_INPUT', 'method prompt-tuning: prompt_tuning_init TEXT needs prompt_tuning_init_text (the text whose token embeddings start the prompt)');
  }
  return s;
}
