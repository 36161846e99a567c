/** Shared argument checks: a metric over mismatched or empty arrays would be a silent wrong number. */
import { PeftStudioError } from '../errors';

export function checkPair(what: string, predictions: readonly unknown[], labels: readonly unknown[]): void {
  if (predictions.length !== labels.length)
    throw new PeftStudioError('BAD_INPUT', `${what}: ${predictions.length} predictions for ${labels.length} labels`);
  if (labels.length === 0) throw new PeftStudioError('BAD_INPUT', `${what}: no examples to score`);
}
