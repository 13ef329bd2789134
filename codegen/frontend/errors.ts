// Compile errors point at the user's kernel source: "file:line:column: message".
import { TsvllmError } from "../../runtime/errors.ts";
import type { Span } from "./kast.ts";

export function compileError(span: Span, message: string): TsvllmError {
  return new TsvllmError("TSVLLM_ERR_COMPILE", `${span.file}:${span.line}:${span.column}: ${message}`);
}
