// The error catalogue: every error a user can see has a stable code, so scripts and the server can
// match on it and the message can change without breaking them.
export const errorCatalogue = {
  TSVLLM_ERR_INVALID_ARGUMENT: "invalid argument",
  TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE: "unsupported architecture",
  TSVLLM_ERR_UNSUPPORTED_QUANTIZATION: "unsupported quantization",
  TSVLLM_ERR_MODEL_FILE: "model file is missing or corrupt",
  TSVLLM_ERR_TOKENIZER: "tokenizer error",
  TSVLLM_ERR_KV_CAPACITY: "KV cache cannot hold the requested length",
  TSVLLM_ERR_PROMPT_TOO_LONG: "prompt longer than max_model_len",
  TSVLLM_ERR_QUEUE_FULL: "waiting queue is full",
  TSVLLM_ERR_ABORTED: "request aborted",
  TSVLLM_ERR_COMPILE: "kernel or model failed to compile",
  TSVLLM_ERR_BUILD: "native build failed",
  TSVLLM_ERR_NATIVE: "native addon error",
} as const;

export type ErrorCode = keyof typeof errorCatalogue;

export class TsvllmError extends Error {
  readonly code: ErrorCode;
  /** The request field or file field the error is about, when there is one. */
  readonly param: string | undefined;
  constructor(code: ErrorCode, message: string, param?: string) {
    super(message);
    this.name = "TsvllmError";
    this.code = code;
    this.param = param;
  }
}
