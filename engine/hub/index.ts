/** Hub downloads: a model id in, a local model folder out. */
export { resolveModel } from './resolve';
export { DEFAULT_ENDPOINT, hubSettings, type HubProgress, type HubSettings, type ResolveOptions } from './options';
export { repoFolder, snapshotDir, isCompleteSnapshot } from './cache';
export { HubHttpError, HubNetworkError } from './http';
export { DownloadProgress, formatBytes, type DownloadProgressOptions } from './progress';
