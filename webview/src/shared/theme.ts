/**
 * Colours come from the `--vscode-*` variables VS Code puts on the webview's <html>; canvases (chart.js, the
 * sparkline) cannot use CSS variables, so they are resolved here with getComputedStyle, and again when the
 * theme changes. VS Code signals a theme change by swapping the body class (vscode-light / vscode-dark /
 * vscode-high-contrast / vscode-high-contrast-light) and rewriting the variables, so one MutationObserver on
 * both elements is enough.
 */
import { runPalette } from '../dashboard/colors';

export interface Theme {
  foreground: string;
  background: string;
  muted: string;
  grid: string;
  focus: string;
  /** Run and series colours for this theme kind (dashboard/colors.ts `runPalette`): blue, orange, green, pink, … */
  palette: string[];
  fontFamily: string;
  fontSize: number;
  highContrast: boolean;
  kind: 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';
}

export function readTheme(): Theme {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  const body = document.body.classList;
  const kind: Theme['kind'] = body.contains('vscode-high-contrast-light')
    ? 'high-contrast-light'
    : body.contains('vscode-high-contrast')
      ? 'high-contrast'
      : body.contains('vscode-light')
        ? 'light'
        : 'dark';
  const light = kind === 'light' || kind === 'high-contrast-light';
  const foreground = v('--vscode-editor-foreground', v('--vscode-foreground', light ? '#333333' : '#cccccc'));
  return {
    foreground,
    background: v('--vscode-editor-background', light ? '#ffffff' : '#1e1e1e'),
    muted: v('--vscode-descriptionForeground', foreground),
    // charts.lines is VS Code's own colour for chart grid lines; high contrast themes draw them in full.
    grid: v('--vscode-charts-lines', light ? 'rgba(0,0,0,0.12)' : 'rgba(255,255,255,0.12)'),
    focus: v('--vscode-focusBorder', '#007fd4'),
    palette: runPalette(kind),
    fontFamily: v('--vscode-font-family', 'system-ui, sans-serif'),
    fontSize: Number.parseFloat(v('--vscode-font-size', '13')) || 13,
    highContrast: kind.startsWith('high-contrast'),
    kind,
  };
}

/** Calls `onChange` (once per frame at most) whenever the theme classes or variables change. */
export function observeTheme(onChange: () => void): () => void {
  let queued = false;
  const observer = new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      onChange();
    });
  });
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  return () => observer.disconnect();
}
