// Reads a PEFT LoRA adapter folder (what peft's save_pretrained writes): adapter_config.json (r,
// lora_alpha, use_rslora, ...) and adapter_model.safetensors, whose tensors are named
// base_model.model.<module>.lora_A.weight [r, in] and .lora_B.weight [out, r]. Each module's delta
// is scaling * B A with scaling lora_alpha / r (rsLoRA: lora_alpha / sqrt(r)); the scaling is
// folded into B here. What the kernels cannot run (DoRA, trained biases, modules saved whole,
// per-module ranks) is refused with the field that asks for it.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { TsvllmError } from "../errors.ts";
import { tensorToF32 } from "../loader/convert.ts";
import { modelFileError, readJsonFileSync } from "../loader/file-io.ts";
import { readSafetensorsFileSync } from "../loader/safetensors.ts";
import type { LoRARequest } from "./lora-request.ts";

/** One adapted module's matrices: a [rank, inFeatures], b [outFeatures, rank] with the scaling in it. */
export interface LoraModuleWeights {
  inFeatures: number;
  outFeatures: number;
  a: Float32Array;
  b: Float32Array;
}

export interface LoraAdapter {
  request: LoRARequest;
  rank: number;
  /** By module name as the base model's tensors have it, e.g. model.layers.0.self_attn.q_proj. */
  modules: Map<string, LoraModuleWeights>;
}

const prefix = "base_model.model.";
const loraBName = /\.lora_B(?:\.[^.]+)?\.weight$/;

/**
 * Loads and checks the adapter at request.loraPath; rank must be at most maxLoraRank. Synchronous:
 * adapters are small, and the engine reloads one evicted from its cache when a request needs it.
 */
export function loadPeftAdapter(request: LoRARequest, maxLoraRank: number): LoraAdapter {
  const dir = request.loraPath;
  const configPath = join(dir, "adapter_config.json");
  if (!existsSync(configPath)) throw modelFileError(configPath, `LoRA adapter "${request.loraName}" has no adapter_config.json (a PEFT adapter folder is expected)`, "lora_path");
  const config = readJsonFileSync(configPath);
  const field = (name: string) => config[name];
  const refuse = (name: string, why: string): never => {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `${configPath}: ${why}`, name);
  };
  if (field("peft_type") !== undefined && field("peft_type") !== "LORA") refuse("peft_type", `peft_type ${JSON.stringify(field("peft_type"))} is not a LoRA adapter`);
  const rank = field("r");
  if (typeof rank !== "number" || !Number.isInteger(rank) || rank < 1) throw modelFileError(configPath, `field "r" must be a positive integer, got ${JSON.stringify(rank)}`, "r");
  const alpha = field("lora_alpha");
  if (typeof alpha !== "number" || !Number.isFinite(alpha)) throw modelFileError(configPath, `field "lora_alpha" must be a number, got ${JSON.stringify(alpha)}`, "lora_alpha");
  if (rank > maxLoraRank) refuse("r", `LoRA rank ${rank} is greater than max_lora_rank ${maxLoraRank}`);
  if (field("use_dora") === true) refuse("use_dora", "DoRA adapters are not supported");
  if (field("fan_in_fan_out") === true) refuse("fan_in_fan_out", "fan_in_fan_out adapters (Conv1D layers) are not supported");
  if ((field("bias") ?? "none") !== "none") refuse("bias", `bias ${JSON.stringify(field("bias"))}: adapters that train biases are not supported`);
  const saved = field("modules_to_save");
  if (Array.isArray(saved) && saved.length > 0) refuse("modules_to_save", `modules saved whole (${saved.join(", ")}) are not supported`);
  for (const name of ["rank_pattern", "alpha_pattern"]) {
    const pattern = field(name);
    if (pattern && typeof pattern === "object" && Object.keys(pattern).length > 0) refuse(name, `per-module ranks and alphas (${name}) are not supported`);
  }
  const scaling = field("use_rslora") === true ? alpha / Math.sqrt(rank) : alpha / rank;

  const weightsPath = join(dir, "adapter_model.safetensors");
  if (!existsSync(weightsPath)) throw modelFileError(weightsPath, `LoRA adapter "${request.loraName}" has no adapter_model.safetensors${existsSync(join(dir, "adapter_model.bin")) ? " (adapter_model.bin, a pickle, is not read: convert it to safetensors)" : ""}`, "lora_path");
  const tensors = readSafetensorsFileSync(weightsPath);
  const modules = new Map<string, LoraModuleWeights>();
  for (const [name, a] of tensors) {
    const match = /^(.*)\.lora_A(?:\.[^.]+)?\.weight$/.exec(name);
    if (!match) {
      if (!loraBName.test(name)) throw modelFileError(weightsPath, `tensor "${name}" is not a LoRA A or B matrix (lora_embedding and other tensors are not supported)`, name);
      continue;
    }
    const module = match[1].startsWith(prefix) ? match[1].slice(prefix.length) : match[1];
    const bName = name.replace(".lora_A", ".lora_B");
    const b = tensors.get(bName);
    if (!b) throw modelFileError(weightsPath, `tensor "${name}" has no "${bName}" beside it`, bName);
    if (a.shape.length !== 2 || a.shape[0] !== rank) throw modelFileError(weightsPath, `tensor "${name}" has shape [${a.shape}], expected [${rank}, in_features] (r = ${rank})`, name);
    if (b.shape.length !== 2 || b.shape[1] !== rank) throw modelFileError(weightsPath, `tensor "${bName}" has shape [${b.shape}], expected [out_features, ${rank}] (r = ${rank})`, bName);
    const scaledB = tensorToF32(b).slice();
    for (let i = 0; i < scaledB.length; i++) scaledB[i] *= scaling;
    modules.set(module, { inFeatures: a.shape[1], outFeatures: b.shape[0], a: tensorToF32(a), b: scaledB });
  }
  for (const name of tensors.keys()) {
    if (loraBName.test(name) && !tensors.has(name.replace(".lora_B", ".lora_A"))) throw modelFileError(weightsPath, `tensor "${name}" has no lora_A beside it`, name);
  }
  if (modules.size === 0) throw modelFileError(weightsPath, "holds no LoRA matrices", "lora_path");
  return { request, rank, modules };
}
