// POST /classify request body (vLLM's ClassificationRequest, completion form): `input` as text,
// texts, token ids or lists of them, with vLLM's pooling extras.
import { embeddingRequestSchema } from "./embeddings.ts";

const { input, model, user, truncate_prompt_tokens, add_special_tokens, priority, request_id } = embeddingRequestSchema.properties;

export const classificationRequestSchema = {
  type: "object",
  required: ["input"],
  properties: { model, input, user, truncate_prompt_tokens, add_special_tokens, priority, request_id, use_activation: { type: ["boolean", "null"] } },
} as const;

export interface ClassificationRequest {
  model?: string;
  input: string | string[] | number[] | number[][];
  user?: string | null;
  truncate_prompt_tokens?: number | null;
  add_special_tokens?: boolean;
  priority?: number;
  request_id?: string;
  /** vLLM's use_activation: false gives the head's raw logits; null or absent: the model's. */
  use_activation?: boolean | null;
}
