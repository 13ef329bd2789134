// A request's structured-output constraint, in whichever of vLLM's spellings it came:
// structured_outputs (vLLM 0.10 and later), the guided_* fields it replaced, or OpenAI's
// response_format (json_object, json_schema). At most one of them may constrain a request.
// Grammars (guided_grammar, structured_outputs.grammar) and structural tags are refused;
// guided_decoding_backend is left unread, as this server has one backend.
import type { StructuredOutputsParams } from "../runtime/engine/types.ts";
import { ApiError } from "./errors.ts";
import type { SamplingFields } from "./schemas/common.ts";

const unsupportedConstraints = ["guided_grammar", "structural_tag"] as const;
const unsupportedStructuredOutputs = ["grammar", "structural_tag"] as const;

function unsupported(field: string): never {
  throw new ApiError("unsupported_parameter", `'${field}' is not supported by this server: only JSON schemas, json_object, regular expressions and choices constrain the output.`, field);
}

function fromResponseFormat(format: NonNullable<SamplingFields["response_format"]>): StructuredOutputsParams | null {
  switch (format.type) {
    case "text":
      return null;
    case "json_object":
      return { jsonObject: true };
    case "json_schema": {
      const schema = format.json_schema?.schema;
      if (schema == null) throw new ApiError("missing_parameter", "response_format of type 'json_schema' needs json_schema.schema.", "response_format.json_schema.schema");
      return { json: schema };
    }
    default:
      throw new ApiError("invalid_parameter", `response_format type must be 'text', 'json_object' or 'json_schema', got '${format.type}'.`, "response_format.type");
  }
}

export function structuredOutputsOf(body: SamplingFields): StructuredOutputsParams | null {
  for (const field of unsupportedConstraints) if (body[field] != null) unsupported(field);
  const sources: [string, StructuredOutputsParams][] = [];
  const so = body.structured_outputs;
  if (so != null) {
    for (const field of unsupportedStructuredOutputs) if (so[field] != null) unsupported(`structured_outputs.${field}`);
    const { json, regex, choice, json_object: jsonObject, whitespace_pattern: whitespacePattern, disable_any_whitespace: disableAnyWhitespace } = so;
    sources.push(["structured_outputs", { json, regex, choice, jsonObject, whitespacePattern, disableAnyWhitespace }]);
  }
  if (body.guided_json != null || body.guided_regex != null || body.guided_choice != null) {
    sources.push(["guided_json, guided_regex or guided_choice", { json: body.guided_json, regex: body.guided_regex, choice: body.guided_choice }]);
  }
  const format = body.response_format == null ? null : fromResponseFormat(body.response_format);
  if (format !== null) sources.push(["response_format", format]);
  if (sources.length > 1) {
    throw new ApiError("invalid_parameter", `Only one of ${sources.map(([name]) => name).join("; ")} may constrain the output.`, sources[1][0].split(",")[0]);
  }
  if (sources.length === 0) return null;
  const [, params] = sources[0];
  return { ...params, whitespacePattern: params.whitespacePattern ?? body.guided_whitespace_pattern };
}
