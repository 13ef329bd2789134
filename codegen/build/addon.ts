// Builds one addon: writes generated/<name>/ (kernel sources, the kernel table, CMakeLists.txt,
// addon.d.ts) and runs cmake-js. The whole build is keyed by a hash of everything that goes into
// it, so an unchanged compile is a cache hit that only loads the existing .node file.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { emitCppKernel } from "../emit/cpp.ts";
import { emitCudaKernel } from "../emit/cuda.ts";
import { lowerToThreads } from "../lower/threads.ts";
import type { KernelIR } from "../ir/types.ts";
import { emitCMakeLists, type CpuVectors } from "./cmake.ts";
import { emitDeclarations, emitKernelTable } from "./bindings.ts";
import { cmakeJsBuild } from "./cmake-js.ts";
import { dump } from "./dump.ts";
import { generatedDir, repoRoot } from "./paths.ts";
import { buildRuntimeLibrary, hashRuntimeSources } from "./runtime-library.ts";

/** Bump when emitted code changes meaning, so stale caches are never reused. */
export const emitterVersion = 1;

export interface AddonBuild {
  name: string;
  /** cpu: C++ kernels on the runtime's thread pool; cuda: CUDA kernels, device memory, static cudart. */
  target?: "cpu" | "cuda";
  kernels: KernelIR[];
  /** cpu only: compile for this machine (native, the default), or as for one with AVX2 and no
   *  AVX-512, so the narrower vector code is built and tested on machines that have both. */
  cpuVectors?: CpuVectors;
  /** Extra generated C++ sources (e.g. a model's forward pass), file name -> contents. */
  extraSources?: Record<string, string>;
  onProgress?: (message: string) => void;
}

export interface BuiltAddon {
  path: string;
  cacheHit: boolean;
  kernelCount: number;
  seconds: number;
}

function hashInputs(files: Record<string, string>): string {
  const h = createHash("sha256");
  hashRuntimeSources(h.update(`emitter:${emitterVersion}`));
  for (const name of Object.keys(files).sort()) h.update(name).update(files[name]);
  return h.digest("hex").slice(0, 16);
}

export function buildAddon(build: AddonBuild): BuiltAddon {
  const started = performance.now();
  const dir = path.join(generatedDir, build.name);
  const unique = new Map(build.kernels.map((k) => [k.symbol, k]));
  const kernels = [...unique.values()];
  const files: Record<string, string> = {};
  const target = build.target ?? "cpu";
  for (const k of kernels) {
    if (target === "cuda") {
      files[`${k.symbol}.cu`] = emitCudaKernel(lowerToThreads(k));
      dump("cuda", k.symbol, files[`${k.symbol}.cu`]);
    } else {
      files[`${k.symbol}.cc`] = emitCppKernel(k);
      dump("cpp", k.symbol, files[`${k.symbol}.cc`]);
    }
  }
  files["kernel_table.cc"] = emitKernelTable(kernels, target);
  Object.assign(files, build.extraSources ?? {});
  const sources = Object.keys(files).filter((f) => f.endsWith(".cc") || f.endsWith(".cu")).sort().map((f) => `src/${f}`);
  const cmakeLists = emitCMakeLists(build.name, sources, target, buildRuntimeLibrary(target, build.cpuVectors), build.cpuVectors);
  // The CMake project is an input too: a changed list of runtime sources must rebuild.
  const hash = hashInputs({ ...files, "CMakeLists.txt": cmakeLists });
  const output = path.join(dir, "build", "Release", `${build.name}.node`);
  const stamp = path.join(dir, "build.hash");
  const done = (cacheHit: boolean): BuiltAddon => ({ path: output, cacheHit, kernelCount: kernels.length, seconds: (performance.now() - started) / 1000 });
  if (fs.existsSync(output) && fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === hash) return done(true);

  fs.mkdirSync(path.join(dir, "src"), { recursive: true });
  for (const f of fs.readdirSync(path.join(dir, "src"))) if (!(f in files)) fs.rmSync(path.join(dir, "src", f));
  for (const [name, text] of Object.entries(files)) {
    const target = path.join(dir, "src", name);
    if (!fs.existsSync(target) || fs.readFileSync(target, "utf8") !== text) fs.writeFileSync(target, text);
  }
  fs.writeFileSync(path.join(dir, "CMakeLists.txt"), cmakeLists);
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: `tsvllm-${build.name}`, private: true, binary: { napi_versions: [8] } }, null, 2));
  fs.writeFileSync(path.join(dir, "addon.d.ts"), emitDeclarations(kernels));
  build.onProgress?.(`compiling ${kernels.length} kernels into ${path.relative(repoRoot, output)}`);
  cmakeJsBuild(dir, build.name, output);
  fs.writeFileSync(stamp, hash);
  return done(false);
}

export { loadAddon } from "./load-addon.ts";
