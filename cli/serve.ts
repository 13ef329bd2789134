// tsvllm serve --model <dir|hub id|file.gguf>: the OpenAI-compatible server. Logs the config, the
// KV capacity (from the engine) and the time to ready, then a vLLM-style stats line every 10 s
// while there is traffic (none with --disable-log-stats, as in vLLM; /metrics stays).
import { AsyncLLM } from "../index.ts";
import { TsvllmError } from "../runtime/errors.ts";
import { startServer } from "../server/index.ts";
import { parsedReasoningConfig, reasoningParserNamed } from "../server/reasoning-parsers.ts";
import { toolCallParsers } from "../server/tool-parsers.ts";
import type { EngineStats } from "../runtime/engine/types.ts";
import { intFlag, parseFlags } from "./args.ts";
import { loraModulesFlag } from "./lora-modules.ts";
import { engineFlags, llmOptions } from "./engine-options.ts";
import { frontendFlags, frontendOptions } from "./frontend-options.ts";
import { statsLines } from "./stats-log.ts";
import fs from "node:fs";
import path from "node:path";
import { loadCompiledModel } from "../runtime/model/model-loader.ts";
import { withChatTemplate } from "../runtime/tokenizer/with-chat-template.ts";

/** vLLM's pair of flags: the parser of "auto" tool choice, checked before the model loads. */
export function autoToolChoiceParser(enabled: boolean | undefined, parser: string | undefined): string | undefined {
  if (!enabled) return undefined;
  if (parser === undefined || toolCallParsers[parser] === undefined) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--enable-auto-tool-choice needs --tool-call-parser with one of: ${Object.keys(toolCallParsers).join(", ")}`, "tool-call-parser");
  }
  return parser;
}

export async function run(argv: string[]): Promise<void> {
  const started = performance.now();
  const { values, positionals } = parseFlags(argv, {
    ...engineFlags,
    ...frontendFlags,
    host: { type: "string", default: "0.0.0.0" },
    port: { type: "string", default: "8000" },
    "served-model-name": { type: "string", multiple: true },
    "api-key": { type: "string" },
    "chat-template": { type: "string" },
    "enable-auto-tool-choice": { type: "boolean", default: false },
    "tool-call-parser": { type: "string" },
    "reasoning-parser": { type: "string" },
    "lora-modules": { type: "string", multiple: true },
    "log-level": { type: "string", default: "info" },
  });
  if (!values.model && positionals[0]) values.model = positionals[0];
  const toolCallParser = autoToolChoiceParser(values["enable-auto-tool-choice"], values["tool-call-parser"]);
  const reasoningParser = values["reasoning-parser"];
  // Checked before the model loads, as the tool-call parser is.
  if (reasoningParser !== undefined) reasoningParserNamed(reasoningParser);
  const options = llmOptions(values);
  // A reasoning parser knows where reasoning starts and ends: thinking_token_budget counts there unless --reasoning-config says otherwise.
  if (reasoningParser !== undefined) options.reasoningConfig ??= parsedReasoningConfig(reasoningParserNamed(reasoningParser));
  const loraModules = loraModulesFlag(values["lora-modules"], options.enableLora);
  const log = (m: string) => process.stderr.write(`INFO ${new Date().toISOString()} ${m}\n`);
  const debug = values["log-level"] === "debug" ? (m: string) => process.stderr.write(`DEBUG ${new Date().toISOString()} ${m}\n`) : () => undefined;
  // Checked before the model loads, as the parsers are.
  const frontend = frontendOptions(values, { info: log, debug });
  log(`tsvllm serve: ${JSON.stringify(options)}`);
  const template = values["chat-template"];
  // --chat-template takes a file or the template text itself, as vLLM's does.
  const chatTemplate = template === undefined ? undefined : fs.existsSync(template) ? fs.readFileSync(template, "utf8") : template;
  const engine = await AsyncLLM.create({
    ...options,
    logger: log,
    loadModel: async (o) => {
      const model = await loadCompiledModel(o);
      return chatTemplate === undefined ? model : { ...model, tokenizer: withChatTemplate(model.tokenizer, chatTemplate) };
    },
  });
  for (const adapter of loraModules) {
    await engine.lora!.addLora(adapter);
    log(`LoRA adapter ${adapter.loraName} loaded from ${adapter.loraPath}`);
  }
  const servedModelName = values["served-model-name"] ?? [path.basename(options.model.replace(/[\\/]+$/, "")).replace(/\.gguf$/, "")];
  const server = await startServer({
    engine,
    servedModelName,
    apiKey: values["api-key"] ?? process.env.VLLM_API_KEY,
    host: values.host,
    port: intFlag(values.port, "port", 8000),
    toolCallParser,
    reasoningParser,
    ...frontend,
    logger: values["log-level"] === "debug" ? { level: "debug" } : false,
  });
  log(`serving ${servedModelName.join(", ")} at ${server.url} (ready in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  if (!values["disable-log-stats"]) periodicStats(engine, log);
}

function periodicStats(engine: AsyncLLM, log: (m: string) => void): void {
  let last: EngineStats = engine.stats();
  let lastTime = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const s = engine.stats();
    for (const line of statsLines(last, s, (now - lastTime) / 1000)) log(line);
    last = s;
    lastTime = now;
  }, 10_000);
  timer.unref();
}
