// The `serve` flags of vLLM's FrontendArgs that shape the HTTP server rather than the engine:
// CORS (JSON lists, as vLLM parses them), the chat answer's role, request logging, prompt token
// details, load tracking and the root path. --disable-fastapi-docs is accepted for scripts written
// for vLLM and changes nothing: this server serves no API docs.
import { TsvllmError } from "../runtime/errors.ts";
import type { CreateServerOptions } from "../server/app.ts";
import { RequestLogger, type RequestLogSink } from "../server/request-logger.ts";
import type { Options, parseFlags } from "./args.ts";

export const frontendFlags = {
  "allowed-origins": { type: "string" },
  "allow-credentials": { type: "boolean", default: false },
  "allowed-methods": { type: "string" },
  "allowed-headers": { type: "string" },
  "response-role": { type: "string", default: "assistant" },
  "enable-log-requests": { type: "boolean", default: false },
  "max-log-len": { type: "string" },
  "enable-prompt-tokens-details": { type: "boolean", default: false },
  "enable-server-load-tracking": { type: "boolean", default: false },
  "disable-fastapi-docs": { type: "boolean", default: false },
  "root-path": { type: "string" },
} as const satisfies Options;

type FrontendFlagValues = ReturnType<typeof parseFlags<typeof frontendFlags>>["values"];

export type FrontendOptions = Pick<CreateServerOptions, "cors" | "responseRole" | "requestLogger" | "enablePromptTokensDetails" | "enableServerLoadTracking" | "rootPath">;

/** A JSON list of strings, e.g. '["https://app.example"]'; absent: vLLM's ["*"]. */
function jsonListFlag(value: string | undefined, name: string): string[] {
  if (value === undefined) return ["*"];
  let list: unknown;
  try {
    list = JSON.parse(value);
  } catch {
    list = null;
  }
  if (!Array.isArray(list) || !list.every((item) => typeof item === "string")) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--${name} must be a JSON list of strings like '["*"]', got ${value}`, name);
  }
  return list;
}

function maxLogLenFlag(value: string | undefined): number | null {
  if (value === undefined) return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--max-log-len must be a whole number, got "${value}"`, "max-log-len");
  return n;
}

/** The server options the flags ask for; request lines go to `sink`. */
export function frontendOptions(values: FrontendFlagValues, sink: RequestLogSink): FrontendOptions {
  const maxLogLen = maxLogLenFlag(values["max-log-len"]);
  return {
    cors: {
      allowedOrigins: jsonListFlag(values["allowed-origins"], "allowed-origins"),
      allowCredentials: values["allow-credentials"],
      allowedMethods: jsonListFlag(values["allowed-methods"], "allowed-methods"),
      allowedHeaders: jsonListFlag(values["allowed-headers"], "allowed-headers"),
    },
    responseRole: values["response-role"],
    requestLogger: values["enable-log-requests"] ? new RequestLogger(sink, maxLogLen) : undefined,
    enablePromptTokensDetails: values["enable-prompt-tokens-details"],
    enableServerLoadTracking: values["enable-server-load-tracking"],
    rootPath: values["root-path"],
  };
}
