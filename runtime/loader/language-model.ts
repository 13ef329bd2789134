// Multimodal checkpoints whose language model runs alone, on text prompts (image inputs are not
// supported): Gemma3ForConditionalGeneration (Gemma-3 4B, 12B, 27B), Mistral3ForConditionalGeneration
// (Mistral Small 3.1 and 3.2), Qwen2VL/Qwen2_5_VLForConditionalGeneration and
// Qwen3VLForConditionalGeneration. Their config.json nests the language model's config under
// text_config (Qwen2-VL and early Qwen2.5-VL configs keep it at the top level, beside
// vision_config), and their safetensors hold the vision tower and projector beside the language
// model, whose tensors carry a prefix: "language_model.model." (transformers < 4.52) or
// "model.language_model." (later), with the LM head at "language_model.lm_head." or "lm_head.";
// early Qwen-VL checkpoints name them as the text model does ("model.layers." beside "visual.").
// The loader reads the text config as the text model's and renames its tensors to the text model's
// names, dropping the vision ones. The Qwen-VL models' M-RoPE gives a text token the same position
// on its three axes, which is plain RoPE: their "mrope" rope_scaling is read as none.
import { modelFileError } from "./file-io.ts";
import type { LoadedTensor, ModelConfig } from "./types.ts";

/** model_type of a multimodal config -> model_type of the language model it holds. */
const languageModels: Readonly<Record<string, string>> = { gemma3: "gemma3_text", mistral3: "mistral", qwen2_vl: "qwen2", qwen2_5_vl: "qwen2", qwen3_vl: "qwen3" };

/** Families whose configs may keep the text model's fields at the top level (no text_config). */
const topLevelText = new Set(["qwen2_vl", "qwen2_5_vl"]);

/** The fields of the outer config that describe the whole checkpoint, which the text model's own config may lack. */
const checkpointFields = ["torch_dtype", "dtype", "quantization_config", "bos_token_id", "eos_token_id", "tie_word_embeddings"];

/** The config to parse as the language model's: text_config with the checkpoint-wide fields, or the config itself. */
export function languageModelConfig(json: Record<string, unknown>, file: string): Record<string, unknown> {
  const textType = typeof json.model_type === "string" ? languageModels[json.model_type] : undefined;
  if (textType === undefined) return json;
  const text = json.text_config ?? (topLevelText.has(json.model_type as string) ? json : {});
  if (typeof text !== "object" || text === null || Array.isArray(text)) throw modelFileError(file, `field "text_config" should be an object, found ${JSON.stringify(text)}`, "text_config");
  const outer = Object.fromEntries(checkpointFields.filter((key) => json[key] !== undefined && json[key] !== null).map((key) => [key, json[key]]));
  const textConfig = text as Record<string, unknown>;
  return { ...outer, ...textConfig, ...(isMrope(textConfig.rope_scaling) ? { rope_scaling: null } : {}), model_type: textType, architectures: json.architectures };
}

/** Qwen-VL's rope_scaling {"type": "mrope", "mrope_section": [...]}: M-RoPE, plain RoPE for text tokens. */
function isMrope(ropeScaling: unknown): boolean {
  if (typeof ropeScaling !== "object" || ropeScaling === null) return false;
  const { type, rope_type: ropeType } = ropeScaling as Record<string, unknown>;
  return (ropeType ?? type) === "mrope";
}

const prefixes: [string, string][] = [
  ["language_model.model.", "model."],
  ["model.language_model.", "model."],
  ["language_model.lm_head.", "lm_head."],
  // Early Qwen-VL checkpoints: the text model's own names.
  ["model.layers.", "model.layers."],
  ["model.embed_tokens.", "model.embed_tokens."],
  ["model.norm.", "model.norm."],
];

/** Whether the config's architecture is a multimodal one run as its language model alone. */
export function isLanguageModelOfMultimodal(config: ModelConfig): boolean {
  return config.architecture.endsWith("ForConditionalGeneration");
}

/** Renames a multimodal checkpoint's language-model tensors to the text model's names and drops the rest (vision tower, projector). */
export function extractLanguageModelTensors(config: ModelConfig, tensors: Map<string, LoadedTensor>): void {
  if (!isLanguageModelOfMultimodal(config)) return;
  for (const [name, tensor] of [...tensors]) {
    tensors.delete(name);
    const prefix = prefixes.find(([from]) => name.startsWith(from));
    const renamed = prefix ? prefix[1] + name.slice(prefix[0].length) : name === "lm_head.weight" ? name : null;
    if (renamed !== null) tensors.set(renamed, { ...tensor, name: renamed });
  }
}
