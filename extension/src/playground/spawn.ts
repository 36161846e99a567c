/** Starts the bundled predict worker (dist/predict-worker.js) the way the training worker is started. */
import { forkBundledWorker } from '../workerSpawn';
import type { PredictWorkerHandle } from './predictClient';

export function spawnPredictWorker(distDir: string, backend: string): PredictWorkerHandle {
  return forkBundledWorker(distDir, 'predict-worker.js', backend);
}
