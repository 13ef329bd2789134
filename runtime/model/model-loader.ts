// The default model loader behind LLM.create / AsyncLLM.create / `tsvllm serve`: reads the
// checkpoint (HF folder, GGUF file or hub id), its tokenizer, and compiles (or finds in the cache)
// the model for this config and device. On CUDA it sizes the KV cache from gpuMemoryUtilization.
import type { LoadedModel as EngineModel, LLMOptions, ModelLoader } from "../engine/model-loader.ts";
import { defaultEngineArgs } from "../engine/config.ts";
import { loadSamplerAddon } from "../engine/sampler-addon.ts";
import { nativeFp8Quantizer, quantizeFp8AtLoad, type Fp8QuantizeAddon } from "../loader/fp8.ts";
import { isBaseModel } from "../loader/base-model.ts";
import { isSequenceClassifier, takeClassifierHead } from "../loader/sequence-classifier.ts";
import { loadModel } from "../loader/index.ts";
import type { ModelConfig } from "../loader/types.ts";
import { TsvllmError } from "../errors.ts";
import { engineModel } from "./engine-model.ts";
import { createModelRunner } from "./load-runner.ts";
import { nativeTensorMemory, type PackingAddon } from "./weights.ts";

const dtypes = { auto: "auto", float32: "f32", float16: "f16", bfloat16: "bf16" } as const;
const kvCacheDtypes = { ...dtypes, fp8: "fp8e4m3", fp8_e4m3: "fp8e4m3", fp8_e5m2: "fp8e5m2" } as const;

/**
 * What the model runs as (vLLM's task): a sequence classifier classifies and a base model (no LM
 * head) embeds unless a task says otherwise; other models generate unless task "embed" or
 * "classify" (which needs a `score.weight` head) makes them pooling models. Neither of the first two
 * can generate, and a classifier's head gives class probabilities, not embeddings.
 */
function modelTask(config: ModelConfig, options: LLMOptions): "generate" | "embed" | "classify" {
  const refuse = (kind: string, task: string) => {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `${options.model}: ${config.architecture} is ${kind}; it runs as task "${task}", not "${options.task}"`, "task");
  };
  if (isSequenceClassifier(config.architecture)) {
    if (options.task !== undefined && options.task !== "classify") refuse("a sequence classification model", "classify");
    return "classify";
  }
  if (isBaseModel(config)) {
    if (options.task === "generate") refuse("a base model without an LM head", "embed");
    return options.task ?? "embed";
  }
  return options.task ?? "generate";
}

/**
 * vLLM's disable_sliding_window: the context is capped to the model's window, as vLLM caps
 * max_model_len, and a longer maxModelLen is refused. Within the window full and windowed
 * attention see the same keys, so the compiled windowed attention serves unchanged.
 */
function slidingWindowMaxModelLen(config: ModelConfig, options: LLMOptions): number | undefined {
  const window = config.slidingWindow;
  if (!options.disableSlidingWindow || window === null) return options.maxModelLen;
  if (options.maxModelLen !== undefined && options.maxModelLen > window) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `maxModelLen ${options.maxModelLen} exceeds the sliding window of ${window} tokens, the limit with disableSlidingWindow`, "maxModelLen");
  }
  return options.maxModelLen ?? Math.min(window, config.maxPositionEmbeddings);
}

export const loadCompiledModel: ModelLoader = async (options: LLMOptions): Promise<EngineModel> => {
  // The sampler addon (built once for every model) lends its file mapping and huge pages to the load.
  const host = loadSamplerAddon() as unknown as PackingAddon & Fp8QuantizeAddon;
  const loaded = await loadModel(options.model, { ...nativeTensorMemory(host), revision: options.revision, downloadDir: options.downloadDir, hfOverrides: options.hfOverrides });
  // The head leaves the tensors first: it stays float32 and out of the compiled forward pass.
  const task = modelTask(loaded.config, options);
  const classifier = task === "classify" ? takeClassifierHead(loaded) : null;
  if (options.quantization === "fp8") quantizeFp8AtLoad(loaded, nativeFp8Quantizer(host));
  const log = options.logger ?? ((m: string) => process.stderr.write(`${m}\n`));
  const maxNumBatchedTokens = options.maxNumBatchedTokens ?? 8192;
  const maxModelLen = slidingWindowMaxModelLen(loaded.config, options);
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
    maxModelLen,
    ...(task === "generate" ? {} : { pooling: true }),
    ...(options.enableLora ? { lora: { maxLoras: options.maxLoras ?? defaultEngineArgs.maxLoras, maxLoraRank: options.maxLoraRank ?? defaultEngineArgs.maxLoraRank } } : {}),
    onProgress: (m) => log(`compile: ${m}`),
  });
  const model = await engineModel(runner, loaded, options);
  return { ...model, ...(classifier === null ? {} : { classifier }), ...(maxModelLen === undefined ? {} : { maxModelLen }) };
};
