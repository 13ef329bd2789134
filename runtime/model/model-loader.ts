// The default model loader behind LLM.create / AsyncLLM.create / `tsvllm serve`: reads the
// checkpoint (HF folder, GGUF file or hub id), its tokenizer, and compiles (or finds in the cache)
// the model for this config and device.
import { TsvllmError } from "../errors.ts";
import type { LoadedModel as EngineModel, LLMOptions, ModelLoader } from "../engine/model-loader.ts";
import type { NativeSamplerAddon } from "../engine/sampler-addon.ts";
import { loadModel } from "../loader/index.ts";
import { loadTokenizer } from "../tokenizer/index.ts";
import { createModelRunner } from "./load-runner.ts";

const dtypes = { auto: "auto", float32: "f32", float16: "f16", bfloat16: "bf16" } as const;

export const loadCompiledModel: ModelLoader = async (options: LLMOptions): Promise<EngineModel> => {
  const loaded = await loadModel(options.model);
  const tokenizer = await loadTokenizer(loaded, loaded.format === "hf" ? loaded.source : undefined);
  if (options.device === "cuda") {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "--device cuda serving is not wired yet: the CUDA build runs through bench/gpu (see README)", "device");
  }
  const log = options.logger ?? ((m: string) => process.stderr.write(`${m}\n`));
  const maxNumBatchedTokens = options.maxNumBatchedTokens ?? 8192;
  const runner = createModelRunner(loaded, {
    dtype: dtypes[options.dtype ?? "auto"],
    blockSize: options.blockSize ?? 16,
    maxNumBatchedTokens,
    maxNumSeqs: options.maxNumSeqs ?? 256,
    maxLogitRows: maxNumBatchedTokens,
    threads: options.numThreads,
    onProgress: (m) => log(`compile: ${m}`),
  });
  return { runner, tokenizer, samplerAddon: runner.addon as unknown as NativeSamplerAddon };
};
