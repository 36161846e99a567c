/**
 * SwiftShader: Google's CPU implementation of Vulkan, which Dawn can run WebGPU on where there is no GPU.
 * Debian's chromium package ships it with its own Vulkan loader, so the parity tests, `npm run parity` and
 * the forward benchmark can check the webgpu backend on any machine with chromium installed.
 *
 * The Vulkan loader reads VK_ICD_FILENAMES and the dynamic linker reads LD_LIBRARY_PATH when the process
 * starts, so these variables only work for a child process started with them, never for this one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { probeAdapter } from './webgpu';

/** Where distributions put chromium's private libraries (libvulkan.so.1, libvk_swiftshader.so, the ICD). */
const CHROMIUM_DIRS = ['/usr/lib/chromium', '/usr/lib/chromium-browser', '/usr/lib64/chromium-browser', '/usr/lib64/chromium'];
const ICD = 'vk_swiftshader_icd.json';

export type SwiftShader = { ok: true; env: NodeJS.ProcessEnv } | { ok: false; reason: string };

/** The environment for a child process that runs WebGPU on SwiftShader, or why there is none here. */
export function swiftShaderEnv(base: NodeJS.ProcessEnv = process.env, dirs: readonly string[] = CHROMIUM_DIRS): SwiftShader {
  const dir = dirs.find((d) => fs.existsSync(path.join(d, ICD)));
  if (!dir) return { ok: false, reason: `SwiftShader not found (no ${ICD} in ${dirs.join(', ')}; install the chromium package)` };
  const libs = [dir, base.LD_LIBRARY_PATH].filter(Boolean).join(path.delimiter);
  return { ok: true, env: { ...base, VK_ICD_FILENAMES: path.join(dir, ICD), LD_LIBRARY_PATH: libs } };
}

export type WebGpuChild = { ok: true; env: NodeJS.ProcessEnv; software: boolean } | { ok: false; reason: string };

/**
 * The environment for a child process that should run the webgpu backend: this one's, when it already
 * sees a hardware adapter (a real GPU beats SwiftShader, and pointing Vulkan at SwiftShader would hide it),
 * else SwiftShader's. Probing loads Dawn into this process, so call it from tools, not from the engine.
 */
export async function webgpuChildEnv(): Promise<WebGpuChild> {
  const here = await probeAdapter();
  if (here.ok && !here.fallback) return { ok: true, env: process.env, software: false };
  // A missing or broken `webgpu` package fails the same way under SwiftShader: say so, not "no SwiftShader".
  if (!here.ok && here.kind !== 'no-adapter') return { ok: false, reason: here.reason };
  const sw = swiftShaderEnv();
  return sw.ok ? { ok: true, env: sw.env, software: true } : sw;
}
