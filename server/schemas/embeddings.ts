// POST /v1/embeddings request body (OpenAI's shape, with vLLM's extra fields).
import { tokenIdList } from "./common.ts";

export const embeddingRequestSchema = {
  type: "object",
  required: ["input"],
  properties: {
    model: { type: "string" },
    input: {
      anyOf: [
        { type: "string" },
        { type: "array", minItems: 1, items: { type: "string" } },
        { ...tokenIdList, minItems: 1 },
        { type: "array", minItems: 1, items: { ...tokenIdList, minItems: 1 } },
      ],
    },
    encoding_format: { type: "string", enum: ["float", "base64"] },
    dimensions: { type: ["integer", "null"] },
    user: { type: ["string", "null"] },
    truncate_prompt_tokens: { type: ["integer", "null"], minimum: 1 },
    add_special_tokens: { type: "boolean" },
    priority: { type: "integer" },
    request_id: { type: "string" },
  },
} as const;

export interface EmbeddingRequest {
  model?: string;
  input: string | string[] | number[] | number[][];
  encoding_format?: "float" | "base64";
  dimensions?: number | null;
  user?: string | null;
  truncate_prompt_tokens?: number | null;
  add_special_tokens?: boolean;
  priority?: number;
  request_id?: string;
}
