// Compiles the CUDA source of every kernel in dsl/kernels with nvcc for sm_80 and sm_90a, warnings
// as errors, over a representative set of specialisations: each dtype variable f32/f16/bf16, head
// dims 64/80/128, block sizes 16/32, GQA groups 1/4/8, model-sized widths for the rest, plus mixed
// dtypes (one f32 variable beside bf16 ones) once per kernel with several dtype variables. No GPU is
// needed. Each kernel file becomes one .cu file under generated/cuda-check/ holding all its
// specialisations, so nvcc's start-up (~3 s for two architectures) is paid per file rather than
// per specialisation (~0.3 s); two files compile at a time, largest first. The forward pass of each
// architecture's test shape (bf16 weights, the GPU kernel plan, as `tsvllm compile --target cuda`
// emits it) is one more source each, named forward-<arch>, and so are a Q8_0 GGUF's llama (linears on
// their blocks), forward-llama-q8_0, a GPTQ llama (linears on the int4 kernel), forward-llama-gptq,
// and an fp8 checkpoint's llama (linears on fp8 W8A8, dynamic activations, KV cache in fp8 e4m3),
// forward-llama-fp8, and a llama compiled with 4 LoRA slots of rank 16, forward-llama-lora. Kernels with a KV cache dtype variable (C) compile twice more, with an e4m3 and an e5m2 cache.
//   npx tsx codegen/build/cuda-check.ts [kernel name regex]
// Exits 1, printing nvcc's message, if any source does not compile.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { DTypeName } from "../../dsl/dtype.ts";
import { compileKernel } from "../compile.ts";
import { banner } from "../emit/banner.ts";
import { emitCudaKernel } from "../emit/cuda.ts";
import { parseKernelFile } from "../frontend/parse.ts";
import type { Specialization } from "../ir/specialize.ts";
import { lowerToThreads } from "../lower/threads.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { archNames, architectureConfig } from "../../models/test-shapes.ts";
import type { ModelConfig } from "../../runtime/loader/types.ts";
import { planModel } from "../../runtime/model/compile-model.ts";
import { generatedDir, nativeDir, preludeDir, repoRoot } from "./paths.ts";

export const nvccFlags = [
  "-std=c++17", "-c", "-O3", "-I", preludeDir, "-I", nativeDir,
  "-gencode", "arch=compute_80,code=sm_80", "-gencode", "arch=compute_90a,code=sm_90a",
  "-Xcompiler", "-Wall,-Wextra,-Werror", "-Werror", "all-warnings",
];

const kernelsDir = path.join(repoRoot, "dsl/kernels");
const floatDtypes: DTypeName[] = ["f32", "f16", "bf16"];

/** Values each Const takes, by parameter name; a kernel can override a name that means something else there. */
const constValues: Record<string, number[]> = { KE: [2, 8], RENORM: [0, 1], TM: [32, 64], NEOX: [0, 1], HD: [64, 80, 128], BS: [16, 32], G: [1, 4, 8], D: [4096], I: [11008], K: [4096], N: [4096], M: [1024], offset: [1024], R2: [32, 40, 64], BN: [128], BK: [128], SINKS: [0], ACT: [0], BIAS: [0] };
const constOverrides: Record<string, Record<string, number[]>> = {
  matmulInt4: { G: [128] },
  // Full and partial rotary over a 128-wide head, each pairing.
  ropeKvWrite: { R2: [32, 64], HD: [128], BS: [16] },
  topK: { K: [8] },
  // A fused qkv's three slices (Llama-3-8B: q 4096 rows, k and v 1024 each) and one slice, rank 16.
  loraExpand: { R: [16], S1: [4096, 6144], S2: [5120, 6144], NC: [64] },
  loraShrink: { J: [48] },
  // 8-bit panels in groups of 16 with offsets (Q2_K's); other groupings only change constants.
  matmulQ8Panels: { G: [16], MG: [16] },
  embeddingQ8Panels: { G: [16], MG: [16] },
  moeGateUpQ8Panels: { G: [16], MG: [16] },
  moeDownQ8Panels: { G: [16], MG: [16] },
};
/**
 * Switches a kernel has beside its grid (GPT-OSS's attention sinks, its experts' biases and clamped
 * SwiGLU): each is also compiled on, once per dtype, at the grid's first point.
 */
const switchedOn: Record<string, Record<string, number>> = {
  pagedAttention: { SINKS: 1 },
  pagedAttentionTiled: { SINKS: 1 },
  pagedDecodeCombine: { SINKS: 1 },
  moeGateUp: { ACT: 1, BIAS: 1 },
  moeDown: { BIAS: 1 },
  moeGateUpQ8Panels: { ACT: 1, BIAS: 1 },
  moeDownQ8Panels: { BIAS: 1 },
  moeGateUpQ4Panels: { ACT: 1, BIAS: 1 },
  moeDownQ4Panels: { BIAS: 1 },
};

export interface CudaCheckUnit {
  /** The kernel file's name, e.g. paged-attention. */
  name: string;
  kernels: { file: string; exportName: string; spec: Specialization }[];
}

function cartesian(axes: [string, number[]][]): Record<string, number>[] {
  return axes.reduce<Record<string, number>[]>((combos, [name, values]) => combos.flatMap((c) => values.map((v) => ({ ...c, [name]: v }))), [{}]);
}

/** Every kernel in dsl/kernels with its specialisations, one unit per kernel file, largest first. */
export function cudaCheckUnits(filter?: RegExp): CudaCheckUnit[] {
  const units: CudaCheckUnit[] = [];
  for (const entry of fs.readdirSync(kernelsDir).filter((f) => f.endsWith(".ts")).sort()) {
    const file = path.relative(process.cwd(), path.join(kernelsDir, entry));
    const unit: CudaCheckUnit = { name: entry.replace(/\.ts$/, ""), kernels: [] };
    for (const ast of parseKernelFile(file)) {
      if (filter && !filter.test(ast.exportName)) continue;
      const axes = ast.params.filter((p) => p.kind === "const").map((p): [string, number[]] => {
        const values = constOverrides[ast.exportName]?.[p.name] ?? constValues[p.name];
        if (!values) throw new TsvllmError("TSVLLM_ERR_COMPILE", `cuda-check: no representative value for Const ${p.name} of ${ast.exportName}; add one to constValues in codegen/build/cuda-check.ts`);
        return [p.name, values];
      });
      const dtypeChoices: (DTypeName | undefined)[] = ast.dtypeVars.length ? floatDtypes : [undefined];
      const combos = cartesian(axes);
      for (const dtype of dtypeChoices) {
        const dtypes = Object.fromEntries(ast.dtypeVars.map((v) => [v, dtype!]));
        for (const consts of combos) unit.kernels.push({ file, exportName: ast.exportName, spec: { dtypes, consts } });
        const on = switchedOn[ast.exportName];
        if (on) unit.kernels.push({ file, exportName: ast.exportName, spec: { dtypes, consts: { ...combos[0], ...on } } });
      }
      // Mixed dtypes as the forward uses them (f32 activations beside bf16 weights or caches, in
      // either parameter order: the first and the last dtype variable), once each: they differ from the
      // uniform ones only in conversions.
      if (ast.dtypeVars.length > 1) {
        for (const f32At of [0, ast.dtypeVars.length - 1]) {
          const dtypes = Object.fromEntries(ast.dtypeVars.map((v, i): [string, DTypeName] => [v, i === f32At ? "f32" : "bf16"]));
          unit.kernels.push({ file, exportName: ast.exportName, spec: { dtypes, consts: combos[0] } });
        }
      }
      // A KV cache (dtype variable C) may be fp8 e4m3 or e5m2 (kv_cache_dtype fp8, fp8_e5m2), beside bf16 activations.
      if (ast.dtypeVars.includes("C")) {
        for (const fp8 of ["fp8e4m3", "fp8e5m2"] as const) {
          const dtypes = Object.fromEntries(ast.dtypeVars.map((v): [string, DTypeName] => [v, v === "C" ? fp8 : "bf16"]));
          unit.kernels.push({ file, exportName: ast.exportName, spec: { dtypes, consts: combos[0] } });
        }
      }
    }
    if (unit.kernels.length) units.push(unit);
  }
  return units.sort((a, b) => b.kernels.length - a.kernels.length);
}

/** Writes one unit's .cu file: every specialisation's emitted CUDA, one after another. */
function writeUnit(unit: CudaCheckUnit, outDir: string): string {
  const sources = unit.kernels.map((k) => emitCudaKernel(lowerToThreads(compileKernel(k.file, k.exportName, k.spec))));
  const target = path.join(outDir, `${unit.name}.cu`);
  fs.writeFileSync(target, [banner("codegen/build/cuda-check.ts"), ...sources].join("\n"));
  return target;
}

const llamaLinears = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];
const layerLinearNames = (config: ModelConfig) => Array.from({ length: config.numHiddenLayers }, (_, l) => llamaLinears.map((m) => `model.layers.${l}.${m}.weight`)).flat();

/** A Q8_0 GGUF's llama: every linear weight (and the tied LM head) left in its blocks, f16 as the loader says for such a file. */
function q8_0Llama(): ModelConfig {
  const config = architectureConfig("llama");
  const names = [...layerLinearNames(config), "model.embed_tokens.weight", "lm_head.weight"];
  return { ...config, torchDtype: "float16", packedWeights: Object.fromEntries(names.map((n) => [n, "q8_0" as const])) };
}

/** An fp8 checkpoint's llama: every linear of the decoder layers fp8 with dynamic activations (W8A8), the LM head bf16. */
function fp8Llama(): ModelConfig {
  const config = architectureConfig("llama");
  return { ...config, torchDtype: "bfloat16", fp8: { quantMethod: "fp8", activationScheme: "dynamic" }, packedWeights: Object.fromEntries(layerLinearNames(config).map((n) => [n, "fp8e4m3" as const])) };
}

/** Writes forward-<arch>.cu for every architecture (and forward-llama-q8_0.cu, forward-llama-gptq.cu, forward-llama-fp8.cu, forward-llama-lora.cu) whose source name the filter (if any) matches. */
function writeForwardSources(outDir: string, filter?: RegExp): string[] {
  const configs: [string, ModelConfig][] = [...Object.keys(archNames).map((arch): [string, ModelConfig] => [arch, { ...architectureConfig(arch), torchDtype: "bfloat16" }]), ["llama-q8_0", q8_0Llama()], ["llama-gptq", { ...architectureConfig("llama"), torchDtype: "float16", gptq: { groupSize: null, checkpointFormat: "gptq_v2" } }], ["llama-fp8", fp8Llama()], ["llama-lora", { ...architectureConfig("llama"), torchDtype: "bfloat16" }]];
  return configs.filter(([name]) => !filter || filter.test(`forward-${name}`)).map(([name, config]) => {
    const target = path.join(outDir, `forward-${name}.cu`);
    // The fp8 checkpoint's llama holds its cache in fp8 too, so the fp8-cache launches compile.
    const lora = name === "llama-lora" ? { lora: { maxLoras: 4, maxLoraRank: 16 } } : {};
    fs.writeFileSync(target, planModel(config, { target: "cuda", kvCacheDtype: name === "llama-fp8" ? "fp8e4m3" : "auto", ...lora }).source);
    return target;
  });
}

function nvcc(source: string, nvccPath: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(nvccPath, [...nvccFlags, source, "-o", source.replace(/\.cu$/, ".o")], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", (e) => resolve({ ok: false, output: `cannot run ${nvccPath}: ${e.message}` }));
    child.on("close", (code) => resolve({ ok: code === 0, output }));
  });
}

export interface CudaCheckResult {
  sources: number;
  kernels: number;
  failures: { source: string; output: string }[];
  seconds: number;
}

export interface CudaCheckOptions {
  /** Only kernels whose export name matches. */
  filter?: RegExp;
  parallel?: number;
  nvccPath?: string;
  /** Where the .cu files go; generated/cuda-check by default. */
  outDir?: string;
  onProgress?: (line: string) => void;
}

export async function runCudaCheck(options: CudaCheckOptions = {}): Promise<CudaCheckResult> {
  const started = performance.now();
  const outDir = options.outDir ?? path.join(generatedDir, "cuda-check");
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const units = cudaCheckUnits(options.filter);
  const queue = [
    ...units.map((u) => ({ name: u.name, what: `${u.kernels.length} specialisations`, source: writeUnit(u, outDir) })),
    ...writeForwardSources(outDir, options.filter).map((source) => ({ name: path.basename(source, ".cu"), what: "forward pass", source })),
  ];
  const total = queue.length;
  const failures: CudaCheckResult["failures"] = [];
  let done = 0;
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const result = await nvcc(next.source, options.nvccPath ?? "nvcc");
      done++;
      options.onProgress?.(`[${done}/${total}] ${result.ok ? "ok  " : "FAIL"} ${next.name} (${next.what})`);
      if (!result.ok) failures.push({ source: path.relative(repoRoot, next.source), output: result.output });
    }
  };
  await Promise.all(Array.from({ length: options.parallel ?? 2 }, worker));
  return { sources: total, kernels: units.reduce((n, u) => n + u.kernels.length, 0), failures, seconds: (performance.now() - started) / 1000 };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const filter = process.argv[2] ? new RegExp(process.argv[2]) : undefined;
  const result = await runCudaCheck({ filter, onProgress: (line) => console.log(line) });
  for (const f of result.failures) console.error(`\n${f.source}:\n${f.output}`);
  const verdict = result.failures.length ? `${result.failures.length} FAILED` : "all compiled";
  console.log(`cuda-check: ${result.sources} sources, ${result.kernels} kernel specialisations for sm_80 + sm_90a, ${verdict} in ${result.seconds.toFixed(1)} s`);
  process.exit(result.failures.length ? 1 : 0);
}
