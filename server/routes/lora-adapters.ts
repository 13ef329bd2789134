// vLLM's runtime LoRA updating: POST /v1/load_lora_adapter {lora_name, lora_path} and
// POST /v1/unload_lora_adapter {lora_name}, registered only when the server was started with
// VLLM_ALLOW_RUNTIME_LORA_UPDATING set (as vLLM does, since any client could then read files the
// server can). Loaded adapters are served under their name, like --lora-modules ones.
import type { FastifyInstance } from "fastify";
import type { LoraClient } from "../../runtime/engine/client.ts";
import { LoRARequest } from "../../runtime/lora/lora-request.ts";
import type { ServerContext } from "../context.ts";
import { ApiError } from "../errors.ts";

const nameOnly = { type: "object", required: ["lora_name"], properties: { lora_name: { type: "string", minLength: 1 } } } as const;
const nameAndPath = { type: "object", required: ["lora_name", "lora_path"], properties: { lora_name: { type: "string", minLength: 1 }, lora_path: { type: "string", minLength: 1 } } } as const;

/** Whether VLLM_ALLOW_RUNTIME_LORA_UPDATING asks for the routes (vLLM reads it as a boolean: "1" or "true"). */
export function runtimeLoraUpdating(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.VLLM_ALLOW_RUNTIME_LORA_UPDATING?.toLowerCase();
  return value === "1" || value === "true";
}

/** The next free adapter id: ids only tell adapters apart, so one past the largest loaded. */
const nextLoraId = (lora: LoraClient) => Math.max(0, ...lora.listLoras().map((l) => l.loraIntId)) + 1;

export async function loraAdapterRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  const lora = ctx.engine.lora;
  if (!lora) return;
  app.post<{ Body: { lora_name: string; lora_path: string } }>("/v1/load_lora_adapter", { schema: { body: nameAndPath } }, async (request, reply) => {
    const { lora_name: name, lora_path: path } = request.body;
    if (ctx.servedModelNames.includes(name) || lora.listLoras().some((l) => l.loraName === name)) {
      throw new ApiError("invalid_parameter", `The lora adapter '${name}' has already been loaded.`, "lora_name");
    }
    await lora.addLora(new LoRARequest(name, nextLoraId(lora), path));
    return reply.type("text/plain").send(`Success: LoRA adapter '${name}' added successfully.`);
  });
  app.post<{ Body: { lora_name: string } }>("/v1/unload_lora_adapter", { schema: { body: nameOnly } }, async (request, reply) => {
    const name = request.body.lora_name;
    const loaded = lora.listLoras().find((l) => l.loraName === name);
    if (!loaded) throw new ApiError("model_not_found", `The lora adapter '${name}' cannot be found.`, "lora_name");
    lora.removeLora(loaded.loraIntId);
    return reply.type("text/plain").send(`Success: LoRA adapter '${name}' removed successfully.`);
  });
}
