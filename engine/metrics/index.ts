/** The metrics module's public surface. */
export { accuracy, argmax, binaryPRF, macroPRF, matthewsCorrcoef, presentClasses, prf, type PrecisionRecallF1 } from './classification';
export { mse, pearson, rankAverage, spearman } from './regression';
export { microPRF, multiHot, subsetAccuracy } from './multilabel';
export { computeMetrics, higherIsBetter, isImprovement, metricNames, PRIMARY_METRIC, primaryMetric } from './compute';
