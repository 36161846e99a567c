/**
 * A tiny element builder. Everything is built from script with properties, never HTML strings: no
 * innerHTML (nothing to escape), and no style attributes, which the webview's CSP (style-src without
 * 'unsafe-inline') would block. Dynamic visuals go through CSS variables set with style.setProperty (CSSOM,
 * which CSP allows).
 */
type Attrs = Record<string, string | number | boolean | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Array<Node | string | undefined>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') el.className = String(v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== undefined) el.append(c);
  return el;
}

/** A codicon button: icon only, so the aria-label (and title, for the mouse) carries its name. */
export function iconButton(icon: string, label: string, testid?: string): HTMLButtonElement {
  const b = h('button', { type: 'button', class: 'icon-button', 'aria-label': label, title: label, 'data-testid': testid });
  b.append(h('span', { class: `codicon codicon-${icon}`, 'aria-hidden': 'true' }));
  return b;
}

/** Sets text only when it changed: cheap re-renders, and screen readers are not re-notified for nothing. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}
