import { PeftStudioError } from '../../errors';
import { readAdapterWeights, renameTensors } from '../adapter-files';
import { parseSettings } from '../settings';
import type { MethodSpec, PeftMethodFactory } from '../types';
import { LORA_INFO, toLoraSettings, type LoraSettings } from './config';
import { Lora, PEFT_PREFIX } from './method';

export { Lora, LORA_MEASURE, PEFT_PREFIX } from './method';
export * from './config';

export const lora: PeftMethodFactory<{ settings: LoraSettings; spec: MethodSpec }> = {
  info: LORA_INFO,
  parseSpec(raw) {
    const spec = parseSettings(LORA_INFO, raw);
    return { settings: toLoraSettings(spec), spec };
  },
  create: ({ settings, spec }) => new Lora(settings, spec),
  adapter: {
    detect: (c) => c.peft_type === 'LORA',
    specFrom(c, file) {
      if (c.fan_in_fan_out === true) throw new PeftStudioError('UNSUPPORTED', `${file}: fan_in_fan_out LoRA (GPT-2 style Conv1D) does not apply to BERT-family encoders`, file);
      if (c.task_type !== undefined && c.task_type !== null && c.task_type !== 'SEQ_CLS') {
        throw new PeftStudioError('UNSUPPORTED', `${file}: task_type ${JSON.stringify(c.task_type)} — only sequence-classification adapters (SEQ_CLS) are supported`, file);
      }
      const saved = c.modules_to_save;
      if (saved !== undefined && saved !== null && !(Array.isArray(saved) && saved.every((m) => typeof m === 'string'))) {
        throw new PeftStudioError('BAD_CONFIG', `${file}: modules_to_save must be a list of module names, got ${JSON.stringify(saved)}`, file);
      }
      const targets = c.target_modules;
      const layers = c.layers_to_transform;
      const init = c.init_lora_weights;
      return {
        name: 'lora',
        r: c.r,
        lora_alpha: c.lora_alpha,
        lora_dropout: c.lora_dropout ?? 0,
        // A string target is a full-match regex in PEFT.
        target_modules: typeof targets === 'string' ? (targets === 'all-linear' ? targets : `/${targets}/`) : targets,
        bias: c.bias ?? 'none',
        modules_to_save: [...new Set(['classifier', ...((c.modules_to_save as string[] | null) ?? [])])],
        init_lora_weights: init === 'gaussian' ? 'gaussian' : 'default',
        use_rslora: c.use_rslora ?? false,
        layers_to_transform: typeof layers === 'number' ? [layers] : (layers ?? null),
      };
    },
    readTensors(dir) {
      const { file, tensors } = readAdapterWeights(dir, ['adapter_model.safetensors', 'adapter_model.bin']);
      return renameTensors(tensors, (key) => {
        if (!key.startsWith(PEFT_PREFIX)) throw new PeftStudioError('WEIGHTS_MISMATCH', `${file}: key ${key} is not a PEFT sequence-classification key (expected the prefix ${PEFT_PREFIX})`, file);
        return key.slice(PEFT_PREFIX.length).replace(/\.(lora_[AB])\.default\./, '.$1.').replace(/\.modules_to_save\.default\./, '.');
      });
    },
    baseModelOf: (c) => (typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : undefined),
  },
};
