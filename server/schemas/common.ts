// JSON-schema pieces shared by the completion routes, and the matching TypeScript shapes. Unknown
// fields are allowed (clients send extras), but every field we read is typed and range-checked here,
// so handlers only see validated values.
import type { TruncationSide } from "../prompts.ts";

/** The documented cap on `n` (choices per prompt). */
export const maxN = 128;
/**
 * vLLM's default max_logprobs, the cap where the engine names none (EngineClient.maxLogprobs, from
 * --max-logprobs, checked in sampling.ts); also the Responses API's own top_logprobs limit.
 */
export const maxLogprobs = 20;

export function nullable<T extends Record<string, unknown>>(schema: T): T & { nullable: true } {
  return { ...schema, nullable: true };
}

const tokenId = { type: "integer", minimum: 0 } as const;
const jsonSchemaField = {
  description: "a JSON schema (an object or a boolean) or its JSON text",
  anyOf: [{ type: "object" }, { type: "boolean" }, { type: "string" }, { type: "null" }],
} as const;
const choiceList = { type: "array", items: { type: "string" }, minItems: 1 } as const;
export const tokenIdList = { type: "array", items: tokenId } as const;

/** Sampling and output fields both /v1/completions and /v1/chat/completions accept. */
export const samplingProperties = {
  model: { type: "string" },
  n: nullable({ type: "integer", minimum: 1, maximum: maxN }),
  max_tokens: nullable({ type: "integer", minimum: 1 }),
  temperature: nullable({ type: "number", minimum: 0 }),
  top_p: nullable({ type: "number", exclusiveMinimum: 0, maximum: 1 }),
  top_k: nullable({ type: "integer", minimum: -1 }),
  min_p: nullable({ type: "number", minimum: 0, maximum: 1 }),
  presence_penalty: nullable({ type: "number", minimum: -2, maximum: 2 }),
  frequency_penalty: nullable({ type: "number", minimum: -2, maximum: 2 }),
  repetition_penalty: nullable({ type: "number", exclusiveMinimum: 0, maximum: 2 ** 31 }),
  seed: nullable({ type: "integer", minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }),
  stop: {
    description: "a string or an array of strings",
    anyOf: [{ type: "string" }, { type: "array", items: { type: "string" } }, { type: "null" }],
  },
  stop_token_ids: nullable(tokenIdList),
  ignore_eos: { type: "boolean" },
  min_tokens: { type: "integer", minimum: 0 },
  include_stop_str_in_output: { type: "boolean" },
  skip_special_tokens: { type: "boolean" },
  spaces_between_special_tokens: { type: "boolean" },
  add_special_tokens: { type: "boolean" },
  logit_bias: nullable({
    type: "object",
    propertyNames: { pattern: "^[0-9]+$" },
    additionalProperties: { type: "number", minimum: -100, maximum: 100 },
  }),
  allowed_token_ids: nullable(tokenIdList),
  bad_words: nullable({ type: "array", items: { type: "string" } }),
  thinking_token_budget: nullable({ type: "integer", minimum: -1 }),
  // vLLM's RepetitionDetectionParams; each field defaults to 0 (min_pattern_size 0 means 1).
  repetition_detection: nullable({
    type: "object",
    properties: { max_pattern_size: { type: "integer", minimum: 0 }, min_pattern_size: { type: "integer", minimum: 0 }, min_count: { type: "integer", minimum: 0 } },
  }),
  prompt_logprobs: nullable({ type: "integer", minimum: 0 }),
  logprob_token_ids: nullable(tokenIdList),
  truncate_prompt_tokens: nullable({ type: "integer", minimum: 1 }),
  truncation_side: nullable({ type: "string", enum: ["left", "right"] }),
  stream: nullable({ type: "boolean" }),
  stream_interval: nullable({ type: "integer", minimum: 1 }),
  stream_options: nullable({
    type: "object",
    properties: { include_usage: { type: "boolean" }, continuous_usage_stats: { type: "boolean" } },
  }),
  echo: { type: "boolean" },
  return_tokens_as_token_ids: { type: "boolean" },
  return_token_ids: { type: "boolean" },
  priority: { type: "integer" },
  // Echoed in the x-request-id header, so printable ASCII only.
  request_id: { type: "string", minLength: 1, maxLength: 256, pattern: "^[!-~]+$" },
  user: { type: "string" },
  response_format: nullable({
    type: "object",
    required: ["type"],
    properties: {
      type: { type: "string" },
      json_schema: nullable({
        type: "object",
        properties: { name: { type: "string" }, description: { type: "string" }, schema: jsonSchemaField, strict: nullable({ type: "boolean" }) },
      }),
    },
  }),
  // vLLM's structured outputs (v0.10 and later) and the guided_* fields they replaced.
  structured_outputs: nullable({
    type: "object",
    properties: {
      json: jsonSchemaField,
      regex: nullable({ type: "string" }),
      choice: nullable(choiceList),
      json_object: nullable({ type: "boolean" }),
      whitespace_pattern: nullable({ type: "string" }),
      disable_any_whitespace: nullable({ type: "boolean" }),
      // Accepted for vLLM compatibility: properties a schema does not list are never generated.
      disable_additional_properties: nullable({ type: "boolean" }),
    },
  }),
  guided_json: jsonSchemaField,
  guided_regex: nullable({ type: "string" }),
  guided_choice: nullable(choiceList),
  guided_whitespace_pattern: nullable({ type: "string" }),
  use_beam_search: { type: "boolean" },
  length_penalty: { type: "number" },
} as const;

export interface SamplingFields {
  model?: string;
  n?: number | null;
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  repetition_penalty?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  stop_token_ids?: number[] | null;
  ignore_eos?: boolean;
  min_tokens?: number;
  include_stop_str_in_output?: boolean;
  skip_special_tokens?: boolean;
  spaces_between_special_tokens?: boolean;
  add_special_tokens?: boolean;
  logit_bias?: Record<string, number> | null;
  allowed_token_ids?: number[] | null;
  bad_words?: string[] | null;
  thinking_token_budget?: number | null;
  repetition_detection?: { max_pattern_size?: number; min_pattern_size?: number; min_count?: number } | null;
  prompt_logprobs?: number | null;
  /** vLLM's logprob_token_ids: needs logprobs asked for, and takes the place of the top-N. */
  logprob_token_ids?: number[] | null;
  truncate_prompt_tokens?: number | null;
  /** Which end truncate_prompt_tokens cuts: "left" keeps the last tokens (the default), "right" the first. */
  truncation_side?: TruncationSide | null;
  stream?: boolean | null;
  /** vLLM's stream_interval: a streamed chunk every this many tokens (the first and last always). */
  stream_interval?: number | null;
  stream_options?: { include_usage?: boolean; continuous_usage_stats?: boolean } | null;
  echo?: boolean;
  return_tokens_as_token_ids?: boolean;
  return_token_ids?: boolean;
  priority?: number;
  request_id?: string;
  user?: string;
  response_format?: { type: string; json_schema?: { name?: string; description?: string; schema?: JsonSchemaField; strict?: boolean | null } | null } | null;
  structured_outputs?: { json?: JsonSchemaField; regex?: string | null; choice?: string[] | null; json_object?: boolean | null; whitespace_pattern?: string | null; disable_any_whitespace?: boolean | null; [unsupported: string]: unknown } | null;
  guided_json?: JsonSchemaField;
  guided_regex?: string | null;
  guided_choice?: string[] | null;
  guided_whitespace_pattern?: string | null;
  use_beam_search?: boolean;
  /** Beam search's score is cumulative log-prob / length ** length_penalty. */
  length_penalty?: number;
  /** Read only to reject them (guided_grammar, prompt_embeds ...). */
  [unsupported: string]: unknown;
}

export type JsonSchemaField = Record<string, unknown> | boolean | string | null;
