// The model creator's sampling defaults (vLLM's --generation-config auto, the default): the
// repetition_penalty, temperature, top_k, top_p, min_p and max_new_tokens of the checkpoint's
// generation_config.json, with --override-generation-config on top, replace the engine's own
// defaults for whatever a request leaves unset (offline: when generate gets no sampling params at
// all, as vLLM's LLM.get_default_sampling_params). "vllm" keeps the engine's own defaults; any other
// value is a folder whose generation_config.json to read.
import { join } from "node:path";
import { TsvllmError } from "../errors.ts";
import { FieldReader } from "../loader/fields.ts";
import { readOptionalJsonFile } from "../loader/file-io.ts";
import type { SamplingParams } from "./types.ts";

/** The generation config keys vLLM takes as sampling defaults, and the fields they set (max_new_tokens is vLLM's max_tokens). */
const samplingKeys = {
  repetition_penalty: "repetitionPenalty",
  temperature: "temperature",
  top_k: "topK",
  top_p: "topP",
  min_p: "minP",
  max_new_tokens: "maxTokens",
} as const satisfies Record<string, keyof SamplingParams>;

export type DefaultSamplingParams = Partial<Pick<SamplingParams, (typeof samplingKeys)[keyof typeof samplingKeys]>>;

/**
 * The sampling defaults from `generationConfig` ("auto": the model folder's, "vllm": none, else a
 * folder) with `overrides` (generation config keys) applied; only keys set to a number count.
 */
export async function defaultSamplingParams(modelDir: string | null, generationConfig = "auto", overrides: Record<string, unknown> = {}): Promise<DefaultSamplingParams> {
  const dir = generationConfig === "auto" ? modelDir : generationConfig === "vllm" ? null : generationConfig;
  const path = dir === null ? "override-generation-config" : join(dir, "generation_config.json");
  const file = dir === null ? null : await readOptionalJsonFile(path);
  if (dir !== null && file === null && generationConfig !== "auto") {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--generation-config ${generationConfig}: ${path} not found`, "generation-config");
  }
  const config = { ...(file ?? {}), ...overrides };
  const fields = new FieldReader((key) => config[key], path);
  const defaults: DefaultSamplingParams = {};
  for (const [key, field] of Object.entries(samplingKeys)) {
    const value = fields.optionalNumber(key);
    if (value !== null) defaults[field] = value;
  }
  return defaults;
}
