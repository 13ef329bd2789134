// Stored responses for GET /v1/responses/{id} and previous_response_id. As in vLLM they live in
// memory and only when the server is started with VLLM_ENABLE_RESPONSES_API_STORE (otherwise
// `store` is silently off, as vLLM does, since OpenAI's default is true); unlike vLLM's, which
// never forgets, the store keeps the most recent `capacity` responses and drops the oldest.
import type { ResponseEventLog } from "./responses/event-log.ts";
import type { ChatRequestMessage } from "./schemas/chat.ts";

/** How many responses a store keeps by default. */
export const defaultResponsesStoreSize = 1000;

export interface StoredResponse {
  /** The response object as it was sent. */
  response: Record<string, unknown>;
  /** The conversation a continuation replays: the input (without instructions) and the answer. */
  messages: ChatRequestMessage[];
  /** A background response created with `stream: true`: its events, to stream again. */
  events?: ResponseEventLog;
}

/** Whether VLLM_ENABLE_RESPONSES_API_STORE asks for a store (read as vLLM reads booleans: "1" or "true"). */
export function responsesStoreEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.VLLM_ENABLE_RESPONSES_API_STORE?.toLowerCase();
  return value === "1" || value === "true";
}

export class ResponsesStore {
  private readonly entries = new Map<string, StoredResponse>();
  constructor(readonly capacity: number = defaultResponsesStoreSize) {}

  get(id: string): StoredResponse | undefined {
    return this.entries.get(id);
  }

  put(id: string, entry: StoredResponse): void {
    this.entries.delete(id);
    this.entries.set(id, entry);
    // Maps iterate in insertion order, so the first key is the oldest.
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }
}
