// tsvllm bench throughput | serve: vLLM's two benchmarks, in its output format.
import { availableParallelism } from "node:os";
import { TsvllmError } from "../runtime/errors.ts";
import { loadModel } from "../runtime/loader/index.ts";
import { quantPanelFormat } from "../runtime/loader/quant-groups.ts";
import type { BlockDType, LoadedTensor } from "../runtime/loader/types.ts";
import { loadSamplerAddon } from "../runtime/engine/sampler-addon.ts";
import { nativeTensorMemory, type HostMemoryAddon } from "../runtime/model/weights.ts";
import { benchThroughput } from "../bench/throughput.ts";
import { benchServe, formatBenchResult } from "../server/bench-serve.ts";
import { intFlag, numberFlag, parseFlags } from "./args.ts";
import { speculativeConfigFlag } from "./engine-options.ts";

/** Bytes of weights above which a decode step streams them from memory rather than from cache: four times the 32 MiB L3 of this project's machines (../shared/docs/PERF.md). */
const cacheResidentBytes = 4 * 32 * 2 ** 20;

export async function run(argv: string[]): Promise<void> {
  const [kind, ...rest] = argv;
  if (kind === "throughput") return throughput(rest);
  if (kind === "serve") return serve(rest);
  throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `usage: tsvllm bench throughput|serve [options] (got "${kind ?? ""}")`);
}

/** What the bench reports fractions against, from the checkpoint's tensors (mapped, not read: the
 *  engines load it themselves, and a copy held for the whole run was 4.4 GB for TinyLlama f32). */
async function modelFigures(model: string): Promise<{ weightBytes: number; storedWeightBytes: number; layerMatmulParameters: number; vocabSize: number }> {
  const loaded = await loadModel(model, nativeTensorMemory(loadSamplerAddon() as unknown as HostMemoryAddon));
  // A decode step reads every weight once (of an MoE's experts, the chosen ones), but only one row of an untied token embedding.
  const lookedUp = loaded.config.tieWordEmbeddings ? undefined : "model.embed_tokens.weight";
  // Tensors as the CPU plan reads them: a matrix in GGUF blocks as quantized panels (its values'
  // bits, an f32 scale per group and an f32 offset per group where the format has them; a piece
  // of a fused weight counted in its own format), anything else as stored.
  const blocks = loaded.config.blockWeights ?? {};
  const panelBytes = (t: LoadedTensor, dtype: BlockDType) => {
    // An expert stack [experts, out, in] packs as experts x out rows.
    const columns = t.shape[t.shape.length - 1];
    const rows = t.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const format = quantPanelFormat([dtype], columns);
    return rows * columns * (format.bits / 8 + (4 / format.groupSize) * (format.hasMin ? 2 : 1));
  };
  const storedBytes = (t: LoadedTensor) => (blocks[t.name] ? panelBytes(t, blocks[t.name]) : t.data.byteLength);
  const tensors = [...loaded.tensors.values()];
  // A token runs numExpertsPerTok of an MoE layer's numExperts experts: that share of their weights
  // is what one token's step reads and multiplies.
  const moe = loaded.config.moe;
  const used = (t: LoadedTensor) => (moe && /\.experts\./.test(t.name) ? moe.numExpertsPerTok / moe.numExperts : 1);
  const read = tensors.filter((t) => t.name !== lookedUp);
  return {
    weightBytes: read.reduce((a, t) => a + storedBytes(t) * used(t), 0),
    // What llama.cpp reads of the same tensors: their bytes in the file.
    storedWeightBytes: read.reduce((a, t) => a + t.data.byteLength * used(t), 0),
    // Every prompt token goes through each layer's matmuls; the embedding is a lookup, and the
    // lm_head runs for the last token of a prompt only.
    layerMatmulParameters: tensors.filter((t) => t.shape.length >= 2 && /\.layers\.\d+\./.test(t.name)).reduce((a, t) => a + t.shape.reduce((n, d) => n * d, 1) * used(t), 0),
    vocabSize: loaded.config.vocabSize,
  };
}

async function throughput(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, {
    model: { type: "string" },
    "peer-gguf": { type: "string" },
    "num-prompts": { type: "string" },
    "input-len": { type: "string" },
    "output-len": { type: "string" },
    seed: { type: "string" },
    threads: { type: "string" },
    "speculative-config": { type: "string" },
  });
  if (!values.model) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "--model is required", "model");
  const { weightBytes, storedWeightBytes, layerMatmulParameters, vocabSize } = await modelFigures(values.model);
  const peerGguf = values["peer-gguf"] ?? (values.model.endsWith(".gguf") ? values.model : undefined);
  const peerWeightBytes = peerGguf === undefined || peerGguf === values.model ? storedWeightBytes : (await modelFigures(peerGguf)).storedWeightBytes;
  const lines = await benchThroughput(
    {
      model: values.model,
      peerGguf,
      numPrompts: intFlag(values["num-prompts"], "num-prompts", 64),
      inputLen: intFlag(values["input-len"], "input-len", 128),
      outputLen: intFlag(values["output-len"], "output-len", 128),
      seed: intFlag(values.seed, "seed", 1),
      threads: intFlag(values.threads, "threads", availableParallelism()),
      // Weights that fit the caches are not read from memory each step: no bandwidth fraction.
      weightBytes: weightBytes > cacheResidentBytes ? weightBytes : undefined,
      peerWeightBytes,
      prefillFlopsPerToken: 2 * layerMatmulParameters,
      speculativeConfig: values["speculative-config"] === undefined ? undefined : speculativeConfigFlag(values["speculative-config"]),
    },
    vocabSize,
  );
  for (const line of lines) process.stdout.write(`${line}\n`);
}

async function serve(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, {
    "base-url": { type: "string", default: "http://127.0.0.1:8000" },
    model: { type: "string" },
    "num-prompts": { type: "string" },
    "random-input-len": { type: "string" },
    "random-output-len": { type: "string" },
    "request-rate": { type: "string" },
    "max-concurrency": { type: "string" },
    seed: { type: "string" },
  });
  const result = await benchServe({
    baseUrl: values["base-url"]!,
    model: values.model,
    numPrompts: intFlag(values["num-prompts"], "num-prompts", 200),
    randomInputLen: intFlag(values["random-input-len"], "random-input-len", 128),
    randomOutputLen: intFlag(values["random-output-len"], "random-output-len", 64),
    requestRate: values["request-rate"] === undefined || values["request-rate"] === "inf" ? Infinity : numberFlag(values["request-rate"], "request-rate", Infinity),
    maxConcurrency: values["max-concurrency"] === undefined ? undefined : intFlag(values["max-concurrency"], "max-concurrency", 1),
    seed: intFlag(values.seed, "seed", 0),
    dataset: "random-words",
    ignoreEos: true,
  });
  process.stdout.write(`${formatBenchResult(result)}\n`);
}
