// The engine flags of vLLM's ModelConfig and LoadConfig that choose which checkpoint files are read
// and how: --tokenizer (a GGUF model with its Hugging Face tokenizer), --revision and
// --tokenizer-revision, --download-dir, --load-format, --hf-overrides, --disable-sliding-window,
// and --trust-remote-code, accepted for scripts written for vLLM with a notice that it changes nothing.
import type { LLMOptions } from "../runtime/engine/model-loader.ts";
import { flagError, jsonObjectFlag, type Options, type parseFlags } from "./args.ts";

export const checkpointFlags = {
  tokenizer: { type: "string" },
  "tokenizer-revision": { type: "string" },
  revision: { type: "string" },
  "download-dir": { type: "string" },
  "load-format": { type: "string" },
  "hf-overrides": { type: "string" },
  "disable-sliding-window": { type: "boolean" },
  "trust-remote-code": { type: "boolean" },
} as const satisfies Options;

type CheckpointFlagValues = ReturnType<typeof parseFlags<typeof checkpointFlags>>["values"];

export type CheckpointOptions = Pick<LLMOptions, "tokenizerPath" | "tokenizerRevision" | "revision" | "downloadDir" | "hfOverrides" | "disableSlidingWindow">;

/**
 * vLLM's load formats that name what tsvllm reads, which the model path decides anyway; the others
 * (pt, npcache, dummy, tensorizer, bitsandbytes, ...) need loaders this engine does not have.
 */
function checkLoadFormat(format: string | undefined, model: string): void {
  if (format === undefined || format === "auto") return;
  const isGguf = model.toLowerCase().endsWith(".gguf");
  if (format === "gguf" && !isGguf) throw flagError("load-format", `gguf needs --model to be a .gguf file, got ${model}`);
  if (format === "safetensors" && isGguf) throw flagError("load-format", `safetensors needs a model folder or hub id, not the GGUF file ${model}`);
  if (format !== "gguf" && format !== "safetensors") {
    throw flagError("load-format", `${format} is not supported: tsvllm reads safetensors (a model folder or hub id) and GGUF files; use auto, safetensors or gguf`);
  }
}

export function checkpointOptions(values: CheckpointFlagValues, model: string, notice: (message: string) => void): CheckpointOptions {
  checkLoadFormat(values["load-format"], model);
  if (values["trust-remote-code"]) notice("--trust-remote-code changes nothing: tsvllm runs no code from a model repo, only its config, tokenizer and weights");
  const options: CheckpointOptions = {};
  if (values.tokenizer !== undefined) options.tokenizerPath = values.tokenizer;
  if (values["tokenizer-revision"] !== undefined) options.tokenizerRevision = values["tokenizer-revision"];
  if (values.revision !== undefined) options.revision = values.revision;
  if (values["download-dir"] !== undefined) options.downloadDir = values["download-dir"];
  if (values["hf-overrides"] !== undefined) options.hfOverrides = jsonObjectFlag(values["hf-overrides"], "hf-overrides", `{"max_position_embeddings": 4096}`);
  if (values["disable-sliding-window"]) options.disableSlidingWindow = true;
  return options;
}
