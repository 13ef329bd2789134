// The fastify app: JSON bodies checked byte by byte, schema-validated routes grouped in plugins,
// one error handler that answers everything in OpenAI's error shape.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { EngineClient } from "../runtime/engine/client.ts";
import { TsvllmError } from "../runtime/errors.ts";
import { installApiKey } from "./auth.ts";
import { installJsonParser } from "./body-parser.ts";
import { defaultCorsOptions, installCors, type CorsOptions } from "./cors.ts";
import { installDrain } from "./drain.ts";
import type { ServerContext } from "./context.ts";
import { ApiError, toApiError } from "./errors.ts";
import { ServerMetrics } from "./metrics.ts";
import { chatRoutes } from "./routes/chat.ts";
import { completionRoutes } from "./routes/completions.ts";
import { classifyRoutes } from "./routes/classify.ts";
import { embeddingRoutes } from "./routes/embeddings.ts";
import { healthRoutes } from "./routes/health.ts";
import { loadRoutes } from "./routes/load.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { loraAdapterRoutes, runtimeLoraUpdating } from "./routes/lora-adapters.ts";
import { modelRoutes } from "./routes/models.ts";
import { responsesRoutes } from "./routes/responses.ts";
import { sagemakerRoutes } from "./routes/sagemaker.ts";
import { scoreRoutes } from "./routes/score.ts";
import { tokenizeRoutes } from "./routes/tokenize.ts";
import { reasoningParserNamed } from "./reasoning-parsers.ts";
import type { RequestLogger } from "./request-logger.ts";
import { ResponsesStore, responsesStoreEnabled } from "./responses-store.ts";
import { rootPathRewriter } from "./root-path.ts";
import { ServerLoad } from "./server-load.ts";
import { toolCallParsers, type ToolCallParser } from "./tool-parsers.ts";

/** Large enough for a 128k-token prompt sent as token ids; a bigger body gets a 413 at once. */
export const defaultBodyLimit = 4 * 1024 * 1024;

export interface CreateServerOptions {
  engine: EngineClient;
  /** Names clients may use in `model` (the first is the default); defaults to [engine.modelName]. */
  servedModelName?: readonly string[];
  /** When set, every route but /health wants "Authorization: Bearer <apiKey>". */
  apiKey?: string;
  /** Answer 503 while the engine reports at least this many waiting requests. */
  maxWaiting?: number;
  /** Largest accepted request body in bytes (default 4 MiB). */
  bodyLimit?: number;
  logger?: FastifyServerOptions["logger"];
  /** vLLM's --enable-auto-tool-choice with --tool-call-parser: the parser of "auto" answers (by name, e.g. "hermes"). */
  toolCallParser?: string;
  /** vLLM's --reasoning-parser: splits chat answers' reasoning from their content (by name, e.g. "deepseek_r1"). */
  reasoningParser?: string;
  /** Keep /v1/responses answers for retrieval and previous_response_id (default: VLLM_ENABLE_RESPONSES_API_STORE). */
  responsesStore?: boolean;
  /** How many stored responses are kept, the oldest dropped first (default 1000). */
  maxStoredResponses?: number;
  /** Serves /v1/load_lora_adapter and /v1/unload_lora_adapter (default: VLLM_ALLOW_RUNTIME_LORA_UPDATING). */
  runtimeLoraUpdating?: boolean;
  /** vLLM's --allowed-origins, --allow-credentials, --allowed-methods, --allowed-headers (default: any origin, method and header). */
  cors?: Partial<CorsOptions>;
  /** vLLM's --response-role (default "assistant"). */
  responseRole?: string;
  /** vLLM's --enable-prompt-tokens-details. */
  enablePromptTokensDetails?: boolean;
  /** vLLM's --enable-log-requests (with --max-log-len): logs each engine request. */
  requestLogger?: RequestLogger;
  /** vLLM's --enable-server-load-tracking: GET /load counts the requests in flight. */
  enableServerLoadTracking?: boolean;
  /** vLLM's --root-path: the path prefix a proxy forwards requests under. */
  rootPath?: string;
}

function toolCallParserNamed(name: string): ToolCallParser {
  const parser = toolCallParsers[name];
  if (parser === undefined) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `unknown tool call parser '${name}'; this server has: ${Object.keys(toolCallParsers).join(", ")}`, "tool-call-parser");
  return parser;
}

export function createServer(options: CreateServerOptions): FastifyInstance {
  const { engine } = options;
  const servedModelNames = options.servedModelName?.length ? [...options.servedModelName] : [engine.modelName];
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? defaultBodyLimit,
    return503OnClosing: false,
    ...(options.rootPath ? { rewriteUrl: rootPathRewriter(options.rootPath) } : {}),
    ajv: {
      // Wrong types are errors, not coerced; unknown fields are kept (and ignored); `verbose`
      // lets the error handler quote a schema's description.
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, verbose: true },
    },
  });
  const ctx: ServerContext = {
    engine,
    tokenizer: engine.tokenizer,
    servedModelNames,
    metrics: new ServerMetrics(engine, servedModelNames[0]),
    maxWaiting: options.maxWaiting ?? null,
    toolCallParser: options.toolCallParser === undefined ? null : toolCallParserNamed(options.toolCallParser),
    reasoningParser: options.reasoningParser === undefined ? null : reasoningParserNamed(options.reasoningParser),
    responsesStore: (options.responsesStore ?? responsesStoreEnabled()) ? new ResponsesStore(options.maxStoredResponses) : null,
    responseRole: options.responseRole ?? "assistant",
    enablePromptTokensDetails: options.enablePromptTokensDetails ?? false,
    requestLogger: options.requestLogger ?? null,
    serverLoad: new ServerLoad(),
    closing: false,
  };

  app.setErrorHandler((err, request, reply) => {
    const apiError = toApiError(err);
    if (apiError.code === "internal_error") request.log.error({ err }, "request failed");
    return reply.code(apiError.status).send(apiError.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?", 1)[0];
    const error = new ApiError("route_not_found", `There is no route ${request.method} ${path}.`);
    return reply.code(error.status).send(error.toJSON());
  });
  installJsonParser(app);
  installDrain(app, ctx);
  if (options.apiKey !== undefined) installApiKey(app, options.apiKey);
  if (options.enableServerLoadTracking) ctx.serverLoad.install(app);
  installCors(app, { ...defaultCorsOptions, ...options.cors });

  for (const routes of [completionRoutes, chatRoutes, responsesRoutes, embeddingRoutes, classifyRoutes, scoreRoutes, modelRoutes, tokenizeRoutes, healthRoutes, metricsRoutes, sagemakerRoutes, loadRoutes]) {
    void app.register(routes, { ctx });
  }
  if (options.runtimeLoraUpdating ?? runtimeLoraUpdating()) {
    void app.register(loraAdapterRoutes, { ctx });
  }
  return app;
}
