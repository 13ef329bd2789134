// vLLM's request log (--enable-log-requests, --max-log-len; vllm/entrypoints/logger.py): every
// engine request's parameters at INFO, and its prompt and prompt token ids, each cut to the first
// max-log-len characters or ids, at DEBUG, so prompts stay out of an INFO log.
import type { LoRARequest } from "../runtime/lora/lora-request.ts";
import type { PreparedPrompt } from "./prompts.ts";

export interface RequestLogSink {
  info(message: string): void;
  debug(message: string): void;
}

export class RequestLogger {
  constructor(
    private readonly sink: RequestLogSink,
    /** null: whole prompts, as vLLM's default. */
    private readonly maxLogLen: number | null = null,
  ) {}

  logInputs(requestId: string, prompt: PreparedPrompt, params: object, loraRequest: LoRARequest | null): void {
    const limit = this.maxLogLen ?? Infinity;
    const text = prompt.text.slice(0, limit);
    const tokenIds = prompt.tokenIds.slice(0, limit);
    this.sink.debug(`Request ${requestId} details: prompt: ${JSON.stringify(text)}, prompt_token_ids: [${tokenIds.join(", ")}], prompt_embeds shape: None.`);
    this.sink.info(`Received request ${requestId}: params: ${JSON.stringify(params)}, lora_request: ${loraRequest === null ? "None" : loraRequest.loraName}.`);
  }
}
