// Prepares the GPU check here, where the compiler and nvcc are: builds the CUDA kernel addon and
// the CUDA model addons (sm_80 + sm_90a, static cudart), writes the HF configs the GPU machine
// makes checkpoints from, copies stories260K-hf, and bundles device-main.ts into .gpu/main.mjs
// (esbuild, which ships with tsx), so the run there needs no node_modules and no compiler.
// Usage: npx tsx bench/gpu/prepare.ts [MODEL ...]   (then run bench/gpu/check.sh with the device tool)
import fs from "node:fs";
import path from "node:path";
import { build } from "esbuild";
import { buildAddon } from "../../codegen/build/addon.ts";
import { repoRoot } from "../../codegen/build/paths.ts";
import { compileKernel } from "../../codegen/compile.ts";
import { parseHfConfig } from "../../runtime/loader/hf-config.ts";
import { compileModel } from "../../runtime/model/compile-model.ts";
import type { ModelArtifact } from "../../runtime/model/compiled-runner.ts";
import { gpuModels, tinyModels } from "./configs.ts";
import { kernelCases } from "./kernel-cases.ts";

const gpu = path.join(repoRoot, ".gpu");
const log = (m: string) => process.stderr.write(`prepare: ${m}\n`);
fs.mkdirSync(path.join(gpu, "models"), { recursive: true });

const irs = kernelCases.map((c) => compileKernel(c.file, c.exportName, c.spec));
const kernels = buildAddon({ name: "gpu_kernels", target: "cuda", kernels: irs, onProgress: log });
fs.copyFileSync(kernels.path, path.join(gpu, "gpu_kernels.node"));
fs.writeFileSync(path.join(gpu, "kernels.json"), JSON.stringify(irs));
log(`kernel addon: ${irs.length} kernels${kernels.cacheHit ? " (cache hit)" : ""}`);

fs.writeFileSync(path.join(gpu, "tiny-models.txt"), `${Object.keys(tinyModels).join("\n")}\n`);
const stories = path.join(repoRoot, "../shared/models/stories260K-hf");
const models: Record<string, { dtype: "f32" | "bf16"; config: Record<string, unknown> }> = { ...gpuModels, "stories260K-hf": { dtype: "f32", config: JSON.parse(fs.readFileSync(path.join(stories, "config.json"), "utf8")) } };
// Model names on the command line build only those (a rerun of part of the check).
const only = process.argv.slice(2);
for (const [name, { dtype, config }] of Object.entries(models).filter(([n]) => only.length === 0 || only.includes(n))) {
  const dir = path.join(gpu, "hf", name);
  fs.mkdirSync(dir, { recursive: true });
  if (name === "stories260K-hf") for (const f of fs.readdirSync(stories)) fs.copyFileSync(path.join(stories, f), path.join(dir, f));
  else fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config, null, 2));
  // The serve check needs a tokenizer beside the random 8B weights: stories260K's stands in (its
  // request sends token ids, and ids past its vocabulary decode as <unk>).
  if (name === "llama3-8b") for (const f of ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]) fs.copyFileSync(path.join(stories, f), path.join(dir, f));
  const compiled = compileModel(parseHfConfig(config, `${name}/config.json`), { target: "cuda", dtype, onProgress: log });
  fs.copyFileSync(compiled.addon.path, path.join(gpu, "models", `${name}.node`));
  const artifact: ModelArtifact = { addonPath: `${name}.node`, weights: compiled.program.weights, dtypes: compiled.dtypes, blockSize: compiled.blockSize, rotaryDim: compiled.rotaryDim, buffers: compiled.program.buffers };
  fs.writeFileSync(path.join(gpu, "models", `${name}.json`), JSON.stringify(artifact));
  log(`model ${name}: ${compiled.addon.kernelCount} kernels${compiled.addon.cacheHit ? " (cache hit)" : ""}`);
}

await build({
  entryPoints: [path.join(repoRoot, "bench/gpu/device-main.ts")],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  outfile: path.join(gpu, "main.mjs"),
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: "warning",
});
log(`bundle: ${(fs.statSync(path.join(gpu, "main.mjs")).size / 1e6).toFixed(1)} MB`);
