// POST /score and /rerank request bodies (vLLM's ScoreRequest and RerankRequest, text inputs only).
const texts = { anyOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] } as const;
const shared = {
  model: { type: "string" },
  truncate_prompt_tokens: { type: ["integer", "null"], minimum: 1 },
  priority: { type: "integer" },
  request_id: { type: "string" },
} as const;

export const scoreRequestSchema = {
  type: "object",
  required: ["text_1", "text_2"],
  properties: { ...shared, text_1: texts, text_2: texts },
} as const;

export const rerankRequestSchema = {
  type: "object",
  required: ["query", "documents"],
  properties: {
    ...shared,
    query: { type: "string" },
    documents: { type: "array", items: { type: "string" } },
    top_n: { type: "integer" },
    return_documents: { type: "boolean" },
  },
} as const;

/** The fields /score and /rerank share. */
export interface ScoringFields {
  model?: string;
  /** Keep each text's last this many tokens. */
  truncate_prompt_tokens?: number | null;
  priority?: number;
  request_id?: string;
}

export interface ScoreRequest extends ScoringFields {
  text_1: string | string[];
  text_2: string | string[];
}

export interface RerankRequest extends ScoringFields {
  query: string;
  documents: string[];
  /** The best this many results; 0 or less (vLLM's default 0): all of them. */
  top_n?: number;
  /** Jina's and Cohere's switch; vLLM always returns each result's document, as the default true does. */
  return_documents?: boolean;
}
