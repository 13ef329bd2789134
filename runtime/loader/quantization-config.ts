// config.json's quantization_config -> the ModelConfig fields of a quantized checkpoint (GPTQ,
// AWQ, fp8, compressed-tensors fp8), refusing what the engine does not run, naming the field.
import { TsvllmError } from "../errors.ts";
import type { FieldReader } from "./fields.ts";
import type { Fp8ActivationScheme, ModelConfig } from "./types.ts";

/**
 * config.json's quantization_config: GPTQ at 4 bits without act-order, AWQ's GEMM layout of the
 * same, and fp8 weights with per-tensor, per-channel or block-wise scales are what the engine runs.
 * GPT-OSS's MXFP4 experts (quant_method "mxfp4", OpenAI's checkpoints) are decoded at load
 * (gpt-oss-experts.ts), so they need nothing here.
 */
export function quantizationOf(fields: FieldReader, modelType: string): Pick<ModelConfig, "gptq" | "fp8"> {
  const q = fields.record("quantization_config");
  if (q === null) return {};
  const unsupported = (what: string) => new TsvllmError("TSVLLM_ERR_UNSUPPORTED_QUANTIZATION", `${fields.file}: ${what}`, "quantization_config");
  const method = q.string("quant_method", "");
  if (method === "fp8") {
    // vLLM's Fp8Config reads activation_scheme with "dynamic" as its default.
    const activationScheme = q.string("activation_scheme", "dynamic");
    if (activationScheme !== "dynamic" && activationScheme !== "static") throw unsupported(`fp8 activation_scheme "${activationScheme}" is not supported (dynamic, static)`);
    return { fp8: q.has("weight_block_size") ? { quantMethod: "fp8", activationScheme, weightBlockSize: blockSizeOf(q, "weight_block_size", unsupported) } : { quantMethod: "fp8", activationScheme } };
  }
  if (method === "compressed-tensors") return compressedTensorsOf(q, unsupported);
  if (method === "gptq" || method === "awq") return gptqOf(q, method, unsupported);
  if (method === "mxfp4") {
    if (modelType !== "gpt_oss") throw unsupported(`quant_method "mxfp4" is supported for GPT-OSS's experts only, not model_type "${modelType}"`);
    return {};
  }
  throw unsupported(`quant_method "${method}" is not supported (gptq, awq, fp8, compressed-tensors fp8 and GPT-OSS's mxfp4 are)`);
}

type Unsupported = (what: string) => TsvllmError;

/** An fp8 scale block [BN, BK]: each thread of the fp8 matmul reads 8 inputs under one scale. */
function blockSizeOf(q: FieldReader, key: string, unsupported: Unsupported): [number, number] {
  const [BN, BK] = q.positiveIntegers(key, 2);
  if (BK % 8 !== 0) throw unsupported(`fp8 blocks of ${BN} x ${BK} are not supported (the block's inputs must be a multiple of 8)`);
  return [BN, BK];
}

/** llm-compressor's format: every config group must quantize weights to 8-bit floats, per tensor or channel, or all in the same blocks. */
function compressedTensorsOf(q: FieldReader, unsupported: Unsupported): Pick<ModelConfig, "fp8"> {
  const format = q.string("format", "");
  if (format !== "float-quantized") throw unsupported(`compressed-tensors format "${format}" is not supported (float-quantized is)`);
  const groups = q.records("config_groups");
  const blockSizes: [number, number][] = [];
  const activationSchemes = new Set<Fp8ActivationScheme>();
  for (const group of groups) {
    const activations = group.record("input_activations");
    activationSchemes.add(activations === null ? "none" : activations.boolean("dynamic", false) ? "dynamic" : "static");
    const weights = group.record("weights");
    const [type, bits, strategy] = [weights?.string("type", "") ?? "", weights?.number("num_bits", 0) ?? 0, weights?.string("strategy", "") ?? ""];
    if (type !== "float" || bits !== 8 || (strategy !== "tensor" && strategy !== "channel" && strategy !== "block")) {
      throw unsupported(`compressed-tensors weights of type "${type}", ${bits} bits, strategy "${strategy}" are not supported (8-bit float, per tensor, channel or block, are)`);
    }
    if (strategy === "block") blockSizes.push(blockSizeOf(weights!, "block_structure", unsupported));
  }
  const weightBlockSize = blockSizes[0];
  if (weightBlockSize && (blockSizes.length !== groups.length || blockSizes.some(([BN, BK]) => BN !== weightBlockSize[0] || BK !== weightBlockSize[1]))) {
    throw unsupported("compressed-tensors groups that mix block-wise fp8 with other strategies or block sizes are not supported");
  }
  if (activationSchemes.size > 1) throw unsupported("compressed-tensors groups that quantize their input activations differently are not supported");
  const activationScheme = [...activationSchemes][0] ?? "none";
  return { fp8: weightBlockSize ? { quantMethod: "compressed-tensors", activationScheme, weightBlockSize } : { quantMethod: "compressed-tensors", activationScheme } };
}

function gptqOf(q: FieldReader, method: "gptq" | "awq", unsupported: Unsupported): Pick<ModelConfig, "gptq"> {
  if (method === "awq") {
    const version = q.string("version", "gemm").toLowerCase();
    if (version !== "gemm") throw unsupported(`AWQ version "${version}" is not supported (gemm is)`);
    if (!q.boolean("zero_point", true)) throw unsupported("AWQ without zero points is not supported");
  }
  // AutoAWQ's own quant_config names: w_bit, q_group_size.
  const bits = q.positiveInteger(q.has("bits") ? "bits" : "w_bit");
  if (bits !== 4) throw unsupported(`GPTQ at ${bits} bits is not supported (4 is)`);
  if (q.boolean("desc_act", false)) throw unsupported("GPTQ with desc_act (act-order) is not supported");
  const groupSize = q.number(q.has("group_size") ? "group_size" : "q_group_size", 128);
  if (groupSize !== -1 && !(Number.isInteger(groupSize) && groupSize > 0 && groupSize % 8 === 0)) throw unsupported(`group_size ${groupSize} is not -1 or a positive multiple of 8`);
  const checkpointFormat = method === "awq" ? "awq" : q.string("checkpoint_format", "gptq");
  if (checkpointFormat !== "gptq" && checkpointFormat !== "gptq_v2" && checkpointFormat !== "awq") throw unsupported(`GPTQ checkpoint_format "${checkpointFormat}" is not supported (gptq, gptq_v2)`);
  return { gptq: { groupSize: groupSize === -1 ? null : groupSize, checkpointFormat } };
}
