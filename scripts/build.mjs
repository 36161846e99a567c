#!/usr/bin/env node
// Bundles the extension for VS Code: the host (dist/extension.js), the training worker (dist/worker.js), the
// playground's predict worker (dist/predict-worker.js), the CLI (dist/cli.js), the TF.js wasm binaries
// (dist/wasm/) and the webviews (dist/webview/).
// `--production` minifies; `--watch` rebuilds on change.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const production = process.argv.includes('--production');
const dist = path.join(root, 'dist');

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  // Native TF packages and `webgpu` (Dawn's native bindings, ESM) are optional and loaded from node_modules
  // only if installed; vscode is provided by the host.
  external: ['vscode', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', 'node-fetch'],
};

async function main() {
  fs.rmSync(dist, { recursive: true, force: true });
  await Promise.all([
    esbuild.build({ ...node, entryPoints: [path.join(root, 'extension/src/extension.ts')], outfile: path.join(dist, 'extension.js') }),
    esbuild.build({ ...node, entryPoints: [path.join(root, 'engine/worker/main.ts')], outfile: path.join(dist, 'worker.js') }),
    esbuild.build({ ...node, entryPoints: [path.join(root, 'engine/worker/predict.ts')], outfile: path.join(dist, 'predict-worker.js') }),
    esbuild.build({ ...node, entryPoints: [path.join(root, 'engine/cli/main.ts')], outfile: path.join(dist, 'cli.js') }),
  ]);
  const wasmSrc = path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  fs.mkdirSync(path.join(dist, 'wasm'), { recursive: true });
  // Node has no wasm threads (tfjs never asks for the threaded build there), so it is not shipped.
  for (const f of fs.readdirSync(wasmSrc).filter((f) => f.endsWith('.wasm') && !f.includes('threaded'))) fs.copyFileSync(path.join(wasmSrc, f), path.join(dist, 'wasm', f));
  // The optional native matMul addon (engine/backend/native/), where it built at install: the bundles look
  // for it in dist/native/. It is built for this machine's platform and Node ABI only.
  const addon = path.join(root, 'native/build/Release/peft_native.node');
  if (fs.existsSync(addon)) {
    fs.mkdirSync(path.join(dist, 'native'), { recursive: true });
    fs.copyFileSync(addon, path.join(dist, 'native', 'peft_native.node'));
  }
  const { buildWebview } = await import(path.join(root, 'webview/build.mjs'));
  await buildWebview({ outdir: path.join(dist, 'webview'), minify: production });
  const size = (p) => (fs.statSync(p).isDirectory() ? fs.readdirSync(p).reduce((a, f) => a + size(path.join(p, f)), 0) : fs.statSync(p).size);
  console.log(`built dist/ (${(size(dist) / 2 ** 20).toFixed(1)} MiB${production ? ', minified' : ''})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
