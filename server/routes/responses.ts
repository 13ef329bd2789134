// POST /v1/responses (OpenAI's Responses API as vLLM serves it): input items through the chat
// template, one answer as output items, whole or as Responses events. With a store
// (VLLM_ENABLE_RESPONSES_API_STORE), GET /v1/responses/{id} returns a stored answer,
// previous_response_id continues its conversation, and POST /v1/responses/{id}/cancel answers as
// vLLM does for a response that is already complete.
import type { FastifyInstance } from "fastify";
import { chatPrompt } from "../chat-prompt.ts";
import { checkQueue, loraRequestFor, resolveModel, type ServerContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { collectFinal, newResponseId, startGeneration } from "../generation.ts";
import { resolveMaxTokens } from "../prompts.ts";
import { constrainAfterReasoning } from "../reasoning-constraint.ts";
import { reasoningParserFor } from "../reasoning-parsers.ts";
import { ResponsesStreamer } from "../responses/response-events.ts";
import { finalResponse, type ResponsesFormat } from "../responses/response.ts";
import { appendInputItems, chatToolChoice, chatTools, inputMessages } from "../responses-input.ts";
import { echoedFields, rejectUnsupportedResponseFields, samplingFieldsOf } from "../responses-request.ts";
import type { StoredResponse } from "../responses-store.ts";
import { toSamplingParams, withMaxTokens } from "../sampling.ts";
import type { ChatRequestMessage } from "../schemas/chat.ts";
import { responsesRequestSchema, type ResponsesInputItem, type ResponsesRequest } from "../schemas/responses.ts";
import { clientAbortSignal, streamSse } from "../sse.ts";
import { toolCallingOf, withToolConstraint } from "../tool-calls.ts";

const idParams = { type: "object", required: ["response_id"], properties: { response_id: { type: "string" } } } as const;

/** A stored response, or vLLM's 404; without a store every id is unknown. */
function storedResponse(ctx: ServerContext, id: string, param: string): StoredResponse {
  const stored = ctx.responsesStore?.get(id);
  if (stored === undefined) throw new ApiError("response_not_found", `Response with id '${id}' not found.`, param);
  return stored;
}

export async function responsesRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  app.post<{ Body: ResponsesRequest }>("/v1/responses", { schema: { body: responsesRequestSchema } }, async (request, reply) => {
    const body = request.body;
    const model = resolveModel(ctx, body.model);
    rejectUnsupportedResponseFields(body);
    // As vLLM: `store` (true by default, as OpenAI's) is quietly off on a server without a store.
    const store = ctx.responsesStore !== null && (body.store ?? true);
    const previous = body.previous_response_id == null ? null : storedResponse(ctx, body.previous_response_id, "previous_response_id");
    const { tokenizer, engine } = ctx;
    const tools = chatTools(body.tools ?? []);
    const toolCalling = toolCallingOf({ tools, tool_choice: chatToolChoice(body.tool_choice, tools.length), parallel_tool_calls: body.parallel_tool_calls }, ctx.toolCallParser);
    // A continuation replays the stored conversation; instructions apply to this turn only (OpenAI's rule).
    const conversation = [...(previous?.messages ?? []), ...inputMessages(body.input)];
    const messages: ChatRequestMessage[] = body.instructions ? [{ role: "system", content: body.instructions }, ...conversation] : conversation;
    const prompt = chatPrompt({ messages, tools: tools.length > 0 ? tools : null }, tokenizer);
    const reasoning = reasoningParserFor(ctx.reasoningParser, {}) !== null;
    const sampling = withToolConstraint(toSamplingParams(samplingFieldsOf(body), { vocabSize: tokenizer.vocabSize, logprobs: null, promptLogprobs: null, defaults: engine.defaultSamplingParams ?? {} }), toolCalling, false);
    // vLLM caps max_output_tokens at what the context leaves rather than refusing it.
    const maxTokens = resolveMaxTokens(prompt.tokenIds.length, null, body.max_output_tokens ?? Infinity, engine.maxModelLen, "input");
    const params = withMaxTokens(reasoning ? constrainAfterReasoning(sampling) : sampling, maxTokens);
    checkQueue(ctx);
    const format: ResponsesFormat = {
      id: body.request_id ?? newResponseId("resp", "_"),
      createdAt: Math.floor(Date.now() / 1000),
      promptTokens: prompt.tokenIds.length,
      reasoning,
      toolChoice: toolCalling.mode,
      echo: echoedFields(body, params, model),
    };
    const remember = (response: Record<string, unknown>) => {
      if (!store) return;
      const replay = [...conversation];
      appendInputItems(replay, response.output as ResponsesInputItem[], "output");
      ctx.responsesStore!.put(format.id, { response, messages: replay });
    };
    const signal = clientAbortSignal(reply);
    const options = { requestId: format.id, priority: body.priority ?? 0, signal, loraRequest: loraRequestFor(ctx, model) };
    const events = await startGeneration(ctx, [{ prompt, params }], options);
    if (body.stream) {
      const streamer = new ResponsesStreamer(format);
      await streamSse(reply, {
        events,
        toChunks: (event) => streamer.events(event.output),
        usageChunk: null,
        headers: { "x-request-id": format.id },
        named: { eventOf: (chunk) => (chunk as { type: string }).type, errorChunk: (error) => streamer.errorEvent(error) },
      });
      if (streamer.completed !== null) remember(streamer.completed);
      return reply;
    }
    const [final] = await collectFinal(events, 1);
    if (signal.aborted) throw new ApiError("client_closed_request", "The client closed the connection.");
    const response = finalResponse(format, final.outputs[0], final.numCachedTokens ?? 0);
    remember(response);
    void reply.header("x-request-id", format.id);
    return response;
  });

  app.get<{ Params: { response_id: string }; Querystring: { stream?: string } }>("/v1/responses/:response_id", { schema: { params: idParams } }, async (request) => {
    // vLLM streams only background responses' events again, and this server runs none.
    if (request.query.stream === "true") throw new ApiError("unsupported_parameter", "Streaming a stored response again is not supported.", "stream");
    return storedResponse(ctx, request.params.response_id, "response_id").response;
  });

  app.post<{ Params: { response_id: string } }>("/v1/responses/:response_id/cancel", { schema: { params: idParams } }, async (request) => {
    storedResponse(ctx, request.params.response_id, "response_id");
    // vLLM cancels only queued or running background responses; a stored one has finished.
    throw new ApiError("invalid_parameter", "Cannot cancel a synchronous response.", "response_id");
  });
}
