// vLLM's score and rerank APIs. An embedding model embeds every text once and a pair scores the
// cosine similarity of its two embeddings; a one-label sequence classifier (a cross-encoder)
// classifies each pair encoded together and scores its activated logit. POST /score (and
// /v1/score) pairs text_1 with text_2 one to one, one to many or many to many pairwise; POST
// /rerank (and /v1/rerank, /v2/rerank, Jina's and Cohere's API) scores each document against the
// query and returns the best top_n, best first, with their documents.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { classifierScoreError, cosineSimilarity, crossEncoderPrompts, scorePairs } from "../../runtime/engine/score.ts";
import { resolveModel, type ServerContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { embedPrompts, inputPrompts } from "../embed-prompts.ts";
import { newResponseId } from "../generation.ts";
import { truncatePrompt } from "../prompts.ts";
import { rerankRequestSchema, scoreRequestSchema, type RerankRequest, type ScoreRequest, type ScoringFields } from "../schemas/score.ts";

interface ScoredPair {
  index: number;
  score: number;
  /** Both texts' tokens, which vLLM's usage counts per pair. */
  numTokens: number;
}

/** A cross-encoder's scores: each pair encoded together (cut to its last truncate_prompt_tokens) and classified. */
async function crossEncode(ctx: ServerContext, reply: FastifyReply, body: ScoringFields, texts1: string[], texts2: string[], id: string, model: string): Promise<ScoredPair[]> {
  const prompts = crossEncoderPrompts(texts1, texts2, ctx.tokenizer).map((tokenIds) => truncatePrompt({ text: ctx.tokenizer.decode(tokenIds), tokenIds }, body.truncate_prompt_tokens, ctx.tokenizer));
  const outputs = await embedPrompts(ctx, reply, prompts, { model, requestId: body.request_id ?? id, priority: body.priority, poolingTask: "classify" });
  return outputs.map((o, index) => ({ index, score: o.probs![0], numTokens: o.promptTokenIds.length }));
}

/** Scores the pairs vLLM's rules make of texts1 and texts2, in order: embedded (each text once) and compared, or cross-encoded. */
async function scoreTexts(ctx: ServerContext, reply: FastifyReply, body: ScoringFields, texts1: string[], texts2: string[], idPrefix: string): Promise<{ id: string; model: string; pairs: ScoredPair[] }> {
  const model = resolveModel(ctx, body.model);
  const refusal = classifierScoreError(ctx.engine.classifier, ctx.tokenizer);
  if (refusal !== null) throw new ApiError("invalid_parameter", refusal, "task");
  if (ctx.engine.classifier) {
    const id = newResponseId(idPrefix);
    return { id, model, pairs: await crossEncode(ctx, reply, body, texts1, texts2, id, model) };
  }
  const pairs = scorePairs(texts1.length, texts2.length);
  const prompts = inputPrompts(ctx, { input: [...texts1, ...texts2], truncate_prompt_tokens: body.truncate_prompt_tokens });
  const id = newResponseId(idPrefix);
  const outputs = await embedPrompts(ctx, reply, prompts, { model, requestId: body.request_id ?? id, priority: body.priority });
  const second = (j: number) => outputs[texts1.length + j];
  return {
    id,
    model,
    pairs: pairs.map(([i, j], index) => ({ index, score: cosineSimilarity(outputs[i].embedding!, second(j).embedding!), numTokens: outputs[i].promptTokenIds.length + second(j).promptTokenIds.length })),
  };
}

const asList = (texts: string | string[]) => (typeof texts === "string" ? [texts] : texts);
const usage = (pairs: readonly ScoredPair[]) => pairs.reduce((n, p) => n + p.numTokens, 0);

/** The score routes' handler, which /invocations also dispatches to. */
export function scoreHandler(ctx: ServerContext) {
  return async (request: FastifyRequest<{ Body: ScoreRequest }>, reply: FastifyReply) => {
    const body = request.body;
    const { id, model, pairs } = await scoreTexts(ctx, reply, body, asList(body.text_1), asList(body.text_2), "score");
    const tokens = usage(pairs);
    return {
      id,
      object: "list",
      created: Math.floor(Date.now() / 1000),
      model,
      data: pairs.map(({ index, score }) => ({ index, object: "score", score })),
      usage: { prompt_tokens: tokens, total_tokens: tokens, completion_tokens: 0 },
    };
  };
}

/** The rerank routes' handler, which /invocations also dispatches to. */
export function rerankHandler(ctx: ServerContext) {
  return async (request: FastifyRequest<{ Body: RerankRequest }>, reply: FastifyReply) => {
    const body = request.body;
    const { id, model, pairs } = await scoreTexts(ctx, reply, body, [body.query], body.documents, "rerank");
    const topN = (body.top_n ?? 0) > 0 ? body.top_n! : pairs.length;
    // Best first; equal scores keep the documents' order.
    const best = [...pairs].sort((a, b) => b.score - a.score).slice(0, topN);
    const tokens = usage(pairs);
    return {
      id,
      model,
      usage: { total_tokens: tokens, prompt_tokens: tokens },
      results: best.map(({ index, score }) => ({ index, ...(body.return_documents === false ? {} : { document: { text: body.documents[index] } }), relevance_score: score })),
    };
  };
}

export async function scoreRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  for (const path of ["/score", "/v1/score"]) {
    app.post<{ Body: ScoreRequest }>(path, { schema: { body: scoreRequestSchema } }, scoreHandler(ctx));
  }
  for (const path of ["/rerank", "/v1/rerank", "/v2/rerank"]) {
    app.post<{ Body: RerankRequest }>(path, { schema: { body: rerankRequestSchema } }, rerankHandler(ctx));
  }
}
