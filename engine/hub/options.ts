/**
 * Where the Hub is, who we are, and where files go: explicit options first, then the environment variables
 * huggingface_hub reads (so a user's existing HF_ENDPOINT / HF_TOKEN / HF_HUB_OFFLINE just work), then defaults.
 */
import * as os from 'node:os';
import * as path from 'node:path';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** One progress report: `bytes` of `file` are on disk; `bytes === total` once it is complete. */
export interface HubProgress {
  file: string;
  bytes: number;
  /** Undefined when the server does not say (no Content-Length). */
  total?: number;
}

export interface ResolveOptions {
  /** Hub cache root; default $PEFT_STUDIO_CACHE, else ~/.cache/peft-studio/hub. */
  cacheDir?: string;
  /** Default $HF_ENDPOINT, else https://huggingface.co (a mirror such as https://hf-mirror.com works too). */
  endpoint?: string;
  /** Branch, tag or commit; default `main`, as on the Hub. */
  revision?: string;
  /** Default $HF_TOKEN; needed only for private or gated repos. */
  token?: string;
  onProgress?: (p: HubProgress) => void;
  /** Never touch the network; default from $HF_HUB_OFFLINE. */
  offline?: boolean;
  /** For tests and proxies; default the global fetch (undici). */
  fetchImpl?: typeof fetch;
}

export interface HubSettings {
  cacheDir: string;
  endpoint: string;
  revision: string;
  token?: string;
  offline: boolean;
  fetch: typeof fetch;
  onProgress?: (p: HubProgress) => void;
}

/** huggingface_hub's `_is_true`: 1 / ON / YES / TRUE, any case. */
function envTrue(v: string | undefined): boolean {
  return v !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(v.trim().toUpperCase());
}

/** Empty strings count as unset: `HF_TOKEN= peft-studio …` must not send an empty bearer token. */
const nonEmpty = (v: string | undefined) => (v && v.trim() ? v.trim() : undefined);

export function hubSettings(opts: ResolveOptions = {}, env: NodeJS.ProcessEnv = process.env): HubSettings {
  const endpoint = (nonEmpty(opts.endpoint) ?? nonEmpty(env.HF_ENDPOINT) ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  return {
    cacheDir: path.resolve(nonEmpty(opts.cacheDir) ?? nonEmpty(env.PEFT_STUDIO_CACHE) ?? path.join(os.homedir(), '.cache', 'peft-studio', 'hub')),
    endpoint,
    revision: nonEmpty(opts.revision) ?? 'main',
    token: nonEmpty(opts.token) ?? nonEmpty(env.HF_TOKEN),
    offline: opts.offline ?? envTrue(env.HF_HUB_OFFLINE),
    fetch: opts.fetchImpl ?? fetch,
    onProgress: opts.onProgress,
  };
}
