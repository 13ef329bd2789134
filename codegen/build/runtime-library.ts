// The runtime core (runtime/native: the module's registration, thread pool, memory, sampler, model
// runner, weight packing) as one static library per target and vector width, built once and linked
// into every addon. Compiled into each addon instead, its ten sources took about 18 s of CPU per
// addon, more than most addons' kernels, and CI builds some seventy addons.
import { createHash, type Hash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { emitRuntimeCMakeLists, type CpuVectors } from "./cmake.ts";
import { cmakeJsBuild } from "./cmake-js.ts";
import { generatedDir, nativeDir, preludeDir } from "./paths.ts";

/** Feeds every file of the runtime core and the prelude (which addons and the library both compile against) into h. */
export function hashRuntimeSources(h: Hash): Hash {
  for (const dir of [nativeDir, preludeDir]) {
    for (const f of fs.readdirSync(dir).sort()) h.update(f).update(fs.readFileSync(path.join(dir, f)));
  }
  return h;
}

/** The library's path, built first unless the one there was built from the same sources and project. */
export function buildRuntimeLibrary(target: "cpu" | "cuda", cpuVectors: CpuVectors = "native"): string {
  const name = `runtime_${target}_${cpuVectors}`;
  const dir = path.join(generatedDir, name);
  const cmakeLists = emitRuntimeCMakeLists(name, target, cpuVectors);
  const hash = hashRuntimeSources(createHash("sha256").update(cmakeLists)).digest("hex").slice(0, 16);
  const output = path.join(dir, "build", `lib${name}.a`);
  const stamp = path.join(dir, "build.hash");
  if (fs.existsSync(output) && fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === hash) return output;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "CMakeLists.txt"), cmakeLists);
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: `tsvllm-${name}`, private: true, binary: { napi_versions: [8] } }, null, 2));
  cmakeJsBuild(dir, name, output);
  fs.writeFileSync(stamp, hash);
  return output;
}
