// The package's public API: vLLM's offline and async entry points, camelCased. Importing it
// registers the compiled-model loader, so LLM.create({ model: "path" }) just works.
import { setDefaultModelLoader } from "./runtime/engine/model-loader.ts";
import { loadCompiledModel } from "./runtime/model/model-loader.ts";

setDefaultModelLoader(loadCompiledModel);

export { LLM } from "./runtime/engine/llm.ts";
export { AsyncLLM } from "./runtime/engine/async-llm.ts";
export { samplingParams, defaultSamplingParams } from "./runtime/engine/types.ts";
export type { SamplingParams, RequestOutput, CompletionOutput } from "./runtime/engine/types.ts";
export { TsvllmError } from "./runtime/errors.ts";
export { LoRARequest } from "./runtime/lora/lora-request.ts";
