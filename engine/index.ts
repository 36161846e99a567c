/** PEFT Studio engine: the public API. No `vscode` import anywhere under engine/: it runs in plain Node. */
export { PeftStudioError, type ErrorCode } from './errors';
export { initBackend, describeBackend, currentBackend, BACKEND_NAMES, type BackendName, type BackendReport } from './backend/select';
export { openModel, predict, maxTokens, type ModelHandle, type OpenModelOptions, type Prediction, type PredictInput } from './api/model-handle';
export { summarize, formatTrainable, type ModelSummary } from './api/summary';
export { loadModel, type LoadModelOptions, type LoadedModel } from './model/load';
export { readConfig, parseConfig, resolveProblemType, type EncoderConfig, type ProblemType } from './model/config';
export { EncoderModel, sequenceClassificationLoss, type ForwardOptions, type ModelOutputs } from './model/model';
export { listBiases, classifyBias, BIAS_KINDS, type BiasInfo } from './model/biases';
export { loadTokenizer } from './tokenizer';
export type { Tokenizer, Encoding, EncodeOptions, BatchEncoding } from './tokenizer/types';
export { loadStateDict } from './io/weights';
export { readSafetensors, writeSafetensors, parseSafetensors, serializeSafetensors } from './io/safetensors';
export { selectBitFit, BIAS_GROUPS, type BitFitConfig } from './peft/bitfit/config';
