// Amazon SageMaker's two routes, as vLLM serves them: GET or POST /ping is /health, and POST
// /invocations serves a JSON body through the first route whose request schema it fits, in vLLM's
// order (chat completions, then completions, for a generative model; embeddings, rerank, then
// score for an embedding model; classification for a sequence classifier, then rerank and score when it is a one-label cross-encoder). A body that fits none is a 400 naming the request types tried.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ServerContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { chatRequestSchema } from "../schemas/chat.ts";
import { classifierScoreError } from "../../runtime/engine/score.ts";
import { classificationRequestSchema } from "../schemas/classify.ts";
import { completionRequestSchema } from "../schemas/completions.ts";
import { embeddingRequestSchema } from "../schemas/embeddings.ts";
import { rerankRequestSchema, scoreRequestSchema } from "../schemas/score.ts";
import { chatCompletionHandler } from "./chat.ts";
import { classificationHandler } from "./classify.ts";
import { completionHandler } from "./completions.ts";
import { embeddingHandler } from "./embeddings.ts";
import { rerankHandler, scoreHandler } from "./score.ts";

interface Invocation {
  /** vLLM's request class name, quoted in the error. */
  name: string;
  /** The route's answer, or null when the body does not fit its schema. */
  tryHandle(request: FastifyRequest, reply: FastifyReply): Promise<unknown> | null;
}

function invocation<B>(name: string, schema: object, handle: (request: FastifyRequest<{ Body: B }>, reply: FastifyReply) => Promise<unknown>): Invocation {
  return {
    name,
    // The route's own validator (same compiler, same options), so a body that fits here is one the route accepts.
    tryHandle: (request, reply) => (request.validateInput(request.body, schema, "body") ? handle(request as FastifyRequest<{ Body: B }>, reply) : null),
  };
}

/** The request types this model serves, earlier ones first, as vLLM's get_*_invocation_types list them. */
function invocationTypes(ctx: ServerContext): Invocation[] {
  if (ctx.engine.classifier) {
    const classification = invocation("ClassificationRequest", classificationRequestSchema, classificationHandler(ctx));
    // A one-label classifier is a cross-encoder, which also serves rerank and score (vLLM's order).
    if (classifierScoreError(ctx.engine.classifier, ctx.tokenizer) !== null) return [classification];
    return [classification, invocation("RerankRequest", rerankRequestSchema, rerankHandler(ctx)), invocation("ScoreRequest", scoreRequestSchema, scoreHandler(ctx))];
  }
  if (ctx.engine.pooling) {
    return [
      invocation("EmbeddingRequest", embeddingRequestSchema, embeddingHandler(ctx)),
      invocation("RerankRequest", rerankRequestSchema, rerankHandler(ctx)),
      invocation("ScoreRequest", scoreRequestSchema, scoreHandler(ctx)),
    ];
  }
  return [
    invocation("ChatCompletionRequest", chatRequestSchema, chatCompletionHandler(ctx)),
    invocation("CompletionRequest", completionRequestSchema, completionHandler(ctx)),
  ];
}

export async function sagemakerRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  const ping = async (_request: FastifyRequest, reply: FastifyReply) => reply.code(200).send();
  app.get("/ping", ping);
  app.post("/ping", ping);

  const invocations = invocationTypes(ctx);
  app.post("/invocations", async (request, reply) => {
    for (const type of invocations) {
      const answer = type.tryHandle(request, reply);
      if (answer !== null) return answer;
    }
    throw new ApiError("unknown_invocation", `Cannot find suitable handler for request. Expected one of: ${invocations.map((t) => t.name).join(", ")}.`);
  });
}
