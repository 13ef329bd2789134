// What a request names to run under a LoRA adapter, as vLLM's LoRARequest(lora_name, lora_int_id,
// lora_path): the id is what the engine tells adapters apart by (prefix-cache keys, slots); the
// path is a PEFT adapter folder (adapter_config.json + adapter_model.safetensors).
import { TsvllmError } from "../errors.ts";

export class LoRARequest {
  constructor(
    readonly loraName: string,
    readonly loraIntId: number,
    readonly loraPath: string,
  ) {
    if (!Number.isInteger(loraIntId) || loraIntId < 1) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `loraIntId must be an integer of 1 or more, got ${loraIntId}`, "lora_int_id");
    if (loraName === "") throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "loraName must not be empty", "lora_name");
  }
}
