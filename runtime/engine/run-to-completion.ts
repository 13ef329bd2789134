// Offline driving of the engine: queue a batch, step until every request in it has finished, and
// return the final outputs in input order (what LLM.generate and beam search both need).
import type { LoRARequest } from "../lora/lora-request.ts";
import type { LLMEngine } from "./llm-engine.ts";
import { poolingFields, type PoolingRequestFields } from "./pooling.ts";
import type { PromptInput, RequestOutput, SamplingParams } from "./types.ts";

export interface OfflineRequest extends PoolingRequestFields {
  prompt: PromptInput;
  params: SamplingParams;
  priority?: number;
  loraRequest?: LoRARequest | null;
}

let nextBatch = 0;

export function runToCompletion(engine: LLMEngine, requests: readonly OfflineRequest[], onFinished?: (output: RequestOutput) => void): RequestOutput[] {
  const prefix = `offline-${nextBatch++}-`;
  const index = new Map<string, number>();
  const results: (RequestOutput | null)[] = requests.map(() => null);
  try {
    requests.forEach((r, i) => {
      engine.addRequest(`${prefix}${i}`, r.prompt, r.params, { priority: r.priority, loraRequest: r.loraRequest, ...poolingFields(r) });
      index.set(`${prefix}${i}`, i);
    });
    let pending = requests.length;
    while (pending > 0) {
      for (const output of engine.step()) {
        const i = index.get(output.requestId);
        if (i === undefined || !output.finished) continue;
        results[i] = output;
        pending--;
        onFinished?.(output);
      }
    }
  } catch (error) {
    // Whatever failed, none of this batch's requests may keep holding blocks.
    for (const id of index.keys()) engine.abortRequest(id);
    throw error;
  }
  return results as RequestOutput[];
}
