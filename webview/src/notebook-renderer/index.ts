/**
 * Notebook renderer for PEFT Studio cell outputs (package.json contributes.notebookRenderer), bundled by
 * webview/build.mjs as an ES module into dist/webview/notebook-renderer.js. VS Code loads it in the
 * notebook's output webview and calls renderOutputItem for each output, and again with the same element
 * when the kernel replaces the output's items (a live run), so views are kept per output id and updated in
 * place: the chart is not rebuilt four times a second.
 *
 * Renderers get no postMessage channel here (requiresMessaging is not asked for): nothing flows back to the
 * host, so there is nothing for the host to validate.
 */
import { COMPARE_MIME } from '../../../protocol/notebook-output';
import { STUDY_MIME } from '../../../protocol/study';
import { StudyView } from '../study/view';
import studyCss from '../study/study.css';
import { observeTheme, readTheme, type Theme } from '../shared/theme';
import { CompareOutputView } from './compare-view';
import css from './renderer.css';
import { RunOutputView } from './run-view';

/** The parts of vscode-notebook-renderer's API used here (that types package is not a dependency). */
interface OutputItem {
  readonly id: string;
  readonly mime: string;
  json(): unknown;
}
interface RendererApi {
  renderOutputItem(item: OutputItem, element: HTMLElement): void;
  disposeOutputItem(id?: string): void;
}

type View = RunOutputView | CompareOutputView | StudyView;
interface Entry {
  element: HTMLElement;
  view: View;
}

/** e2e hooks: what each output shows, and event → drawn latency of live updates. */
interface Stats {
  renders: number;
  latencySamples: number;
  latencySumMs: number;
  latencyMaxMs: number;
  latencyLastMs: number;
}
declare global {
  interface Window {
    __peftNotebookRenderer?: { stats(): Stats };
  }
}

export function activate(): RendererApi {
  const views = new Map<string, Entry>();
  const stats: Stats = { renders: 0, latencySamples: 0, latencySumMs: 0, latencyMaxMs: 0, latencyLastMs: 0 };
  let theme: Theme = readTheme();
  injectStyle();
  observeTheme(() => {
    theme = readTheme();
    for (const e of views.values()) e.view.setTheme(theme);
  });
  window.__peftNotebookRenderer = { stats: () => ({ ...stats }) };

  return {
    renderOutputItem(item, element) {
      let entry = views.get(item.id);
      if (!entry || entry.element !== element) {
        entry?.view.dispose();
        const view = item.mime === STUDY_MIME ? new StudyView() : item.mime === COMPARE_MIME ? new CompareOutputView(theme) : new RunOutputView(theme);
        element.replaceChildren(view.root);
        entry = { element, view };
        views.set(item.id, entry);
      }
      const data = item.json();
      entry.view.update(data);
      stats.renders++;
      // The step's worker clock → now, after the synchronous chart update: same machine, same clock.
      const t = (data as { lastStepTime?: unknown; status?: unknown } | null)?.lastStepTime;
      if (typeof t === 'number' && (data as { status?: unknown }).status === 'running') {
        const l = Date.now() - t;
        entry.element.dataset.latencyMs = String(l);
        stats.latencySamples++;
        stats.latencySumMs += l;
        stats.latencyLastMs = l;
        stats.latencyMaxMs = Math.max(stats.latencyMaxMs, l);
      }
    },
    disposeOutputItem(id) {
      for (const [key, e] of views) {
        if (id !== undefined && key !== id) continue;
        e.view.dispose();
        views.delete(key);
      }
    },
  };
}

function injectStyle(): void {
  if (document.getElementById('peft-studio-renderer-style')) return;
  const style = document.createElement('style');
  style.id = 'peft-studio-renderer-style';
  style.textContent = `${css}\n${studyCss}`;
  document.head.append(style);
}
