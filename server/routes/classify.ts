// POST /classify (vLLM's classification API, served by a sequence classifier: task "classify"): one
// item per input with its class probabilities (the `score` head's logits under the model's
// activation, or raw with use_activation false), the most probable class's label from config.json's
// id2label, and the number of classes. Any other model refuses it (400, param `task`).
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { predictedLabel } from "../../runtime/engine/classifier.ts";
import type { ServerContext } from "../context.ts";
import { poolInputs } from "../embed-prompts.ts";
import { classificationRequestSchema, type ClassificationRequest } from "../schemas/classify.ts";

/** POST /classify's handler, which /invocations also dispatches to. */
export function classificationHandler(ctx: ServerContext) {
  return async (request: FastifyRequest<{ Body: ClassificationRequest }>, reply: FastifyReply) => {
    const body = request.body;
    const { id, model, finals, usage } = await poolInputs(ctx, reply, body, "classify", { poolingTask: "classify", useActivation: body.use_activation });
    const labels = ctx.engine.classifier?.labels ?? [];
    const data = finals.map(({ probs }, index) => ({ index, label: labels[predictedLabel(probs!)] ?? null, probs, num_classes: probs!.length }));
    return { id, object: "list", created: Math.floor(Date.now() / 1000), model, data, usage };
  };
}

export async function classifyRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  app.post<{ Body: ClassificationRequest }>("/classify", { schema: { body: classificationRequestSchema } }, classificationHandler(ctx));
}
