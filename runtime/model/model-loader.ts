// The default model loader behind LLM.create / AsyncLLM.create / `tsvllm serve`: reads the
// checkpoint (HF folder, GGUF file or hub id), its tokenizer, and compiles (or finds in the cache)
// the model for this config and device. On CUDA it sizes the KV cache from gpuMemoryUtilization.
import type { LoadedModel as EngineModel, LLMOptions, ModelLoader } from "../engine/model-loader.ts";
import { defaultEngineArgs } from "../engine/config.ts";
import { loadSamplerAddon } from "../engine/sampler-addon.ts";
import { nativeFp8Quantizer, quantizeFp8AtLoad, type Fp8QuantizeAddon } from "../loader/fp8.ts";
import { isBaseModel } from "../loader/base-model.ts";
import { loadModel } from "../loader/index.ts";
import type { ModelConfig } from "../loader/types.ts";
import { TsvllmError } from "../errors.ts";
import { engineModel } from "./engine-model.ts";
import { createModelRunner } from "./load-runner.ts";
import { nativeTensorMemory, type PackingAddon } from "./weights.ts";

const dtypes = { auto: "auto", float32: "f32", float16: "f16", bfloat16: "bf16" } as const;
const kvCacheDtypes = { ...dtypes, fp8: "fp8e4m3", fp8_e4m3: "fp8e4m3", fp8_e5m2: "fp8e5m2" } as const;

/** Whether to load the model as a pooling model: task "embed", or a base model (no LM head) unless a task says otherwise. */
function poolingTask(config: ModelConfig, options: LLMOptions): boolean {
  if (!isBaseModel(config)) return options.task === "embed";
  if (options.task === "generate") throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `${options.model}: ${config.architecture} is a base model without an LM head; it runs as an embedding model (task "embed")`, "task");
  return true;
}

export const loadCompiledModel: ModelLoader = async (options: LLMOptions): Promise<EngineModel> => {
  // The sampler addon (built once for every model) lends its file mapping and huge pages to the load.
  const host = loadSamplerAddon() as unknown as PackingAddon & Fp8QuantizeAddon;
  const loaded = await loadModel(options.model, nativeTensorMemory(host));
  if (options.quantization === "fp8") quantizeFp8AtLoad(loaded, nativeFp8Quantizer(host));
  const log = options.logger ?? ((m: string) => process.stderr.write(`${m}\n`));
  const maxNumBatchedTokens = options.maxNumBatchedTokens ?? 8192;
  const runner = createModelRunner(loaded, {
    dtype: dtypes[options.dtype ?? "auto"],
    kvCacheDtype: kvCacheDtypes[options.kvCacheDtype ?? "auto"],
    blockSize: options.blockSize ?? 16,
    maxNumBatchedTokens,
    maxNumSeqs: options.maxNumSeqs ?? 256,
    maxLogitRows: maxNumBatchedTokens,
    numSpeculativeTokens: options.speculativeConfig?.numSpeculativeTokens,
    threads: options.numThreads,
    target: options.device === "cuda" ? "cuda" : "cpu",
    enforceEager: options.enforceEager,
    maxModelLen: options.maxModelLen,
    ...(poolingTask(loaded.config, options) ? { pooling: true } : {}),
    ...(options.enableLora ? { lora: { maxLoras: options.maxLoras ?? defaultEngineArgs.maxLoras, maxLoraRank: options.maxLoraRank ?? defaultEngineArgs.maxLoraRank } } : {}),
    onProgress: (m) => log(`compile: ${m}`),
  });
  return engineModel(runner, loaded, options);
};
