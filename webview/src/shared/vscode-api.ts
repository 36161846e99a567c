/**
 * The one handle on VS Code's webview API. `acquireVsCodeApi` may be called only once per document, so every
 * module gets the api from here. Outside VS Code (webview/dev's smoke page, a plain browser) a stub keeps
 * state in memory and logs what would have been posted, so the page still renders.
 */
import type { WebviewToHost } from '../../../protocol/webview';

export interface VsCodeApi<S> {
  postMessage(message: WebviewToHost): void;
  getState(): S | undefined;
  setState(state: S): void;
}

declare global {
  // Injected by VS Code into every webview; absent in a plain browser.
  // eslint-disable-next-line no-var
  var acquireVsCodeApi: (<S>() => VsCodeApi<S>) | undefined;
}

let api: VsCodeApi<unknown> | undefined;

export function vscodeApi<S>(): VsCodeApi<S> {
  if (!api) {
    if (typeof globalThis.acquireVsCodeApi === 'function') api = globalThis.acquireVsCodeApi<unknown>();
    else {
      let state: unknown;
      api = {
        postMessage: (m) => console.info('[peft-studio webview] would post', m),
        getState: () => state,
        setState: (s) => void (state = s),
      };
    }
  }
  return api as VsCodeApi<S>;
}

/** Calls `fn` at most once per `ms`, always with a trailing call, so the last update is never lost. */
export function throttle(fn: () => void, ms: number): () => void {
  let last = 0;
  let timer: number | undefined;
  return () => {
    const wait = last + ms - Date.now();
    if (wait <= 0) {
      last = Date.now();
      fn();
    } else if (timer === undefined) {
      timer = window.setTimeout(() => {
        timer = undefined;
        last = Date.now();
        fn();
      }, wait);
    }
  };
}
