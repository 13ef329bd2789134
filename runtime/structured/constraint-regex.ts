// A request's structured-output constraint (vLLM's StructuredOutputsParams) as the one regular
// expression its whole output must match.
import { TsvllmError } from "../errors.ts";
import type { StructuredOutputsParams } from "../engine/types.ts";
import { defaultWhitespacePattern, escapeRegex, jsonObjectRegex, jsonSchemaRegex, type JsonSchema } from "./json-schema-regex.ts";

export interface ConstraintRegex {
  source: string;
  /** The field errors about the expression name. */
  param: string;
}

function invalid(message: string, param = "structured_outputs"): never {
  throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", message, param);
}

function parseSchema(json: unknown): JsonSchema {
  if (typeof json !== "string") return json as JsonSchema;
  try {
    return JSON.parse(json) as JsonSchema;
  } catch (err) {
    return invalid(`structured_outputs.json is not valid JSON: ${(err as Error).message}`, "structured_outputs.json");
  }
}

/** A user's whole-output regex: anchors are implied, as vLLM matches the whole output. */
function wholeOutputPattern(regex: string): string {
  return regex.replace(/^\^/, "").replace(/(?<!\\)\$$/, "");
}

export function constraintRegex(params: StructuredOutputsParams): ConstraintRegex {
  const kinds = (["json", "regex", "choice", "jsonObject"] as const).filter((k) => params[k] != null && params[k] !== false);
  if (kinds.length !== 1) invalid(`exactly one structured-output constraint (json, regex, choice or json_object) must be given, got ${kinds.length === 0 ? "none" : kinds.join(", ")}`);
  const whitespace = params.whitespacePattern ?? (params.disableAnyWhitespace ? "" : defaultWhitespacePattern);
  switch (kinds[0]) {
    case "json":
      return { source: jsonSchemaRegex(parseSchema(params.json), whitespace), param: "structured_outputs.json" };
    case "regex":
      return { source: wholeOutputPattern(params.regex!), param: "structured_outputs.regex" };
    case "choice": {
      const choice = params.choice!;
      if (!Array.isArray(choice) || choice.length === 0 || !choice.every((c) => typeof c === "string")) invalid("structured_outputs.choice must be a non-empty list of strings", "structured_outputs.choice");
      return { source: choice.map(escapeRegex).join("|"), param: "structured_outputs.choice" };
    }
    default:
      return { source: jsonObjectRegex(whitespace), param: "structured_outputs.json_object" };
  }
}
