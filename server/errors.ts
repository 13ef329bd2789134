// The server's error catalogue: every error a client can see has a stable code, an HTTP status and
// an OpenAI error type, and goes out as {"error": {"message", "type", "param", "code"}} so any
// OpenAI client raises the matching exception class.
import type { FastifyError } from "fastify";
import { TsvllmError, type ErrorCode } from "../runtime/errors.ts";

export const apiErrorCatalogue = {
  invalid_parameter: { status: 400, type: "invalid_request_error" },
  missing_parameter: { status: 400, type: "invalid_request_error" },
  invalid_json: { status: 400, type: "invalid_request_error" },
  invalid_encoding: { status: 400, type: "invalid_request_error" },
  context_length_exceeded: { status: 400, type: "invalid_request_error" },
  unsupported_parameter: { status: 400, type: "invalid_request_error" },
  // POST /invocations with a body that fits none of the request types the model serves.
  unknown_invocation: { status: 400, type: "invalid_request_error" },
  invalid_api_key: { status: 401, type: "authentication_error" },
  model_not_found: { status: 404, type: "not_found_error" },
  route_not_found: { status: 404, type: "not_found_error" },
  // vLLM and OpenAI answer an unknown response id as an invalid request, with status 404.
  response_not_found: { status: 404, type: "invalid_request_error" },
  method_not_allowed: { status: 405, type: "invalid_request_error" },
  body_too_large: { status: 413, type: "invalid_request_error" },
  unsupported_media_type: { status: 415, type: "invalid_request_error" },
  client_closed_request: { status: 499, type: "invalid_request_error" },
  internal_error: { status: 500, type: "internal_server_error" },
  queue_full: { status: 503, type: "service_unavailable_error" },
  shutting_down: { status: 503, type: "service_unavailable_error" },
} as const;

export type ApiErrorCode = keyof typeof apiErrorCatalogue;

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly param: string | null;
  constructor(code: ApiErrorCode, message: string, param: string | null = null) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.param = param;
  }
  get status(): number {
    return apiErrorCatalogue[this.code].status;
  }
  toJSON(): ApiErrorBody {
    return { error: { message: this.message, type: apiErrorCatalogue[this.code].type, param: this.param, code: this.code } };
  }
}

export interface ApiErrorBody {
  error: { message: string; type: string; param: string | null; code: ApiErrorCode };
}

/** Engine error codes the client caused, and what they become on the wire. */
const engineErrorCodes: Partial<Record<ErrorCode, ApiErrorCode>> = {
  TSVLLM_ERR_INVALID_ARGUMENT: "invalid_parameter",
  // While serving, the only files a client names are LoRA adapters (load_lora_adapter).
  TSVLLM_ERR_MODEL_FILE: "invalid_parameter",
  TSVLLM_ERR_TOKENIZER: "invalid_parameter",
  TSVLLM_ERR_KV_CAPACITY: "context_length_exceeded",
  TSVLLM_ERR_PROMPT_TOO_LONG: "context_length_exceeded",
  TSVLLM_ERR_QUEUE_FULL: "queue_full",
  TSVLLM_ERR_ABORTED: "client_closed_request",
};

/** Fastify's own errors (FST_ERR_*) that a client can trigger. */
const fastifyErrorCodes: Record<string, ApiErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "body_too_large",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported_media_type",
  FST_ERR_CTP_EMPTY_JSON_BODY: "invalid_json",
  FST_ERR_CTP_INVALID_JSON_BODY: "invalid_json",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "invalid_parameter",
  FST_ERR_CTP_INVALID_TYPE: "unsupported_media_type",
};

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
  parentSchema?: { description?: string };
}

/** Turns anything thrown while serving a request into an ApiError. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof TsvllmError) {
    const code = engineErrorCodes[err.code];
    if (code) return new ApiError(code, err.message, err.param ?? null);
    return new ApiError("internal_error", `${err.code}: ${err.message}`);
  }
  const fastifyError = err as Partial<FastifyError> & { validation?: AjvError[] };
  if (Array.isArray(fastifyError.validation) && fastifyError.validation.length > 0) {
    return validationError(fastifyError.validation);
  }
  const mapped = fastifyError.code ? fastifyErrorCodes[fastifyError.code] : undefined;
  if (mapped) return new ApiError(mapped, fastifyError.message ?? mapped);
  if (typeof fastifyError.statusCode === "number" && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new ApiError("invalid_parameter", fastifyError.message ?? "bad request");
  }
  return new ApiError("internal_error", "The server had an error while processing your request.");
}

/** "/messages/0/role" -> "messages[0].role" */
export function paramPath(instancePath: string, child?: string): string {
  const parts = instancePath.split("/").filter((p) => p !== "");
  if (child !== undefined) parts.push(child);
  return parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

function validationError(errors: AjvError[]): ApiError {
  // With anyOf the branch errors come first and explain less than the anyOf's own description.
  const error = errors.find((e) => e.keyword === "anyOf") ?? errors[0];
  if (error.keyword === "required") {
    const param = paramPath(error.instancePath, String(error.params.missingProperty));
    return new ApiError("missing_parameter", `Missing required parameter '${param}'.`, param);
  }
  const param = paramPath(error.instancePath) || "body";
  const description = error.keyword === "anyOf" ? error.parentSchema?.description : undefined;
  const detail = description ? `must be ${description}` : (error.message ?? "is invalid");
  return new ApiError("invalid_parameter", `Invalid value for '${param}': ${detail}.`, param);
}
