// POST /tokenize and /detokenize (vLLM's extra routes): the server's own view of the tokenizer,
// with the same defaults as generation (completions add special tokens, chat does not).
import type { FastifyInstance } from "fastify";
import { chatPrompt } from "../chat-prompt.ts";
import { resolveModel, type ServerContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { checkTokenIds } from "../prompts.ts";
import { detokenizeRequestSchema, tokenizeRequestSchema, type DetokenizeRequest, type TokenizeRequest } from "../schemas/tokenize.ts";

export async function tokenizeRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  const { tokenizer } = ctx;

  app.post<{ Body: TokenizeRequest }>("/tokenize", { schema: { body: tokenizeRequestSchema } }, async (request) => {
    const body = request.body;
    resolveModel(ctx, body.model);
    let tokens: number[];
    if (body.messages !== undefined) {
      tokens = chatPrompt({ ...body, messages: body.messages }, tokenizer).tokenIds;
    } else if (body.prompt !== undefined) {
      tokens = tokenizer.encode(body.prompt, { addSpecialTokens: body.add_special_tokens ?? true });
    } else {
      throw new ApiError("missing_parameter", "Send either 'prompt' or 'messages'.", "prompt");
    }
    return {
      count: tokens.length,
      max_model_len: ctx.engine.maxModelLen,
      tokens,
      ...(body.return_token_strs ? { token_strs: tokens.map((id) => tokenizer.tokenText(id)) } : {}),
    };
  });

  app.post<{ Body: DetokenizeRequest }>("/detokenize", { schema: { body: detokenizeRequestSchema } }, async (request) => {
    const body = request.body;
    resolveModel(ctx, body.model);
    checkTokenIds(body.tokens, tokenizer.vocabSize, "tokens");
    return { prompt: tokenizer.decode(body.tokens, { skipSpecialTokens: false }) };
  });
}
