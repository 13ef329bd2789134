// POST /v1/completions request body.
import { nullable, samplingProperties, tokenIdList, type SamplingFields } from "./common.ts";

export const completionRequestSchema = {
  type: "object",
  required: ["prompt"],
  properties: {
    ...samplingProperties,
    prompt: {
      description: "a string, an array of strings, an array of token ids or an array of token-id arrays",
      anyOf: [
        { type: "string" },
        { type: "array", minItems: 1, items: { type: "string" } },
        { ...tokenIdList, minItems: 1 },
        { type: "array", minItems: 1, items: { ...tokenIdList, minItems: 1 } },
      ],
    },
    logprobs: nullable({ type: "integer", minimum: 0 }),
    suffix: nullable({ type: "string" }),
    best_of: nullable({ type: "integer", minimum: 1 }),
  },
} as const;

export interface CompletionRequest extends SamplingFields {
  prompt: string | string[] | number[] | number[][];
  logprobs?: number | null;
  suffix?: string | null;
  best_of?: number | null;
}
