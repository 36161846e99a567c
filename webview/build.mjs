/**
 * Bundles the webviews for the extension: `buildWebview({ outdir, minify })` writes
 *   dashboard.js / dashboard.css   (the dashboard panel)
 *   sidebar.js   / sidebar.css     (the sidebar's webview view)
 *   playground.js / playground.css (the "Try it" panel)
 *   study.js     / study.css       (a study's report tab)
 *   notebook-renderer.js           (the .peftnb output renderer: an ES module, CSS inlined)
 *   codicon.css  / codicon.ttf     (VS Code's icon font; also bundled into the two stylesheets)
 * Scripts are IIFEs for the browser (the webview loads them with a nonce'd <script>, no module loader);
 * chart.js and its plugins are bundled in: the CSP allows no remote scripts (STYLE.md 9).
 *
 * Run directly for a one-off build: node webview/build.mjs [outdir] [--no-minify]
 */
import * as esbuild from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/**
 * The webviews import protocol/ for its types and applyEvent; the validators (zod) are host-only, in
 * extension/src/protocol-validate.ts and playground/validate.ts. zod would add ~270 KiB and probe `new Function`, which the CSP reports: fail loudly.
 */
export const noZod = {
  name: 'no-zod',
  setup(build) {
    build.onResolve({ filter: /^zod$/ }, (args) => ({ errors: [{ text: `zod imported by ${args.importer}: webview bundles must not carry the host's validator` }] }));
  },
};

/** @param {{ outdir: string, minify?: boolean, sourcemap?: boolean }} options */
export async function buildWebview({ outdir, minify = true, sourcemap = false }) {
  await mkdir(outdir, { recursive: true });
  const common = { bundle: true, minify, sourcemap, outdir, logLevel: 'warning', absWorkingDir: here };
  const [js, css, renderer] = await Promise.all([
    esbuild.build({
      ...common,
      entryPoints: { dashboard: 'src/dashboard/main.ts', sidebar: 'src/sidebar/main.ts', playground: 'src/playground/main.ts', study: 'src/study/main.ts' },
      format: 'iife',
      platform: 'browser',
      // VS Code 1.90 runs webviews in Electron 29 (Chromium 122).
      target: 'chrome120',
      metafile: true,
      plugins: [noZod],
    }),
    esbuild.build({
      ...common,
      entryPoints: { dashboard: 'src/dashboard/dashboard.css', sidebar: 'src/sidebar/sidebar.css', playground: 'src/playground/playground.css', study: 'src/study/study-page.css' },
      // codicon.css's font: emitted once as codicon.ttf next to the stylesheets (same origin as cspSource).
      loader: { '.ttf': 'file' },
      assetNames: '[name]',
      metafile: true,
    }),
    // The notebook renderer: VS Code imports it as an ES module into the notebook's output webview, so it is
    // one ESM file with its stylesheet inlined as text (a renderer has no HTML page to link a CSS file from).
    esbuild.build({
      ...common,
      entryPoints: { 'notebook-renderer': 'src/notebook-renderer/index.ts' },
      format: 'esm',
      platform: 'browser',
      target: 'chrome120',
      loader: { '.css': 'text' },
      metafile: true,
      plugins: [noZod],
    }),
  ]);
  const codicons = path.dirname(require.resolve('@vscode/codicons/dist/codicon.css'));
  await Promise.all(['codicon.css', 'codicon.ttf'].map((f) => copyFile(path.join(codicons, f), path.join(outdir, f))));
  // The renderer's outputs are listed with the scripts (callers print js and css).
  Object.assign(js.metafile.outputs, renderer.metafile.outputs);
  return { js: js.metafile, css: css.metafile };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const outdir = path.resolve(process.argv[2] ?? path.join(here, '..', 'dist', 'webview'));
  const { js, css } = await buildWebview({ outdir, minify: !process.argv.includes('--no-minify') });
  for (const [file, out] of Object.entries({ ...js.outputs, ...css.outputs })) console.log(`${path.relative(process.cwd(), path.resolve(here, file))}  ${(out.bytes / 1024).toFixed(1)} KiB`);
}
