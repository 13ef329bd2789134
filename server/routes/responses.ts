// POST /v1/responses (OpenAI's Responses API as vLLM serves it): input items through the chat
// template, one answer as output items, whole or as Responses events. With a store
// (VLLM_ENABLE_RESPONSES_API_STORE), GET /v1/responses/{id} returns a stored answer,
// previous_response_id continues its conversation, `background: true` answers at once while the
// generation runs on (see responses-background.ts; streamed, its events can be followed again with
// GET ?stream=true), and POST /v1/responses/{id}/cancel cancels a running background response.
import type { FastifyInstance, FastifyReply } from "fastify";
import type { ServerContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { collectFinal, startGeneration } from "../generation.ts";
import type { ResponseEventLog } from "../responses/event-log.ts";
import { errorEventFields, ResponsesStreamer } from "../responses/response-events.ts";
import { finalResponse } from "../responses/response.ts";
import { BackgroundResponses } from "../responses-background.ts";
import { keepResponse, prepareResponse, storedResponse } from "../responses-prepare.ts";
import { responsesRequestSchema, type ResponsesRequest } from "../schemas/responses.ts";
import { clientAbortSignal, streamSse } from "../sse.ts";

const idParams = { type: "object", required: ["response_id"], properties: { response_id: { type: "string" } } } as const;
const streamQuery = { type: "object", properties: { stream: { type: "string" }, starting_after: { type: "string", pattern: "^[0-9]+$" } } } as const;

/** Responses events go out under their type's name. */
const eventType = (chunk: object) => (chunk as { type: string }).type;

/**
 * Streams a background response's events from index `from` on. A client that goes away stops
 * only its own following: the generation runs on.
 */
async function followEvents(reply: FastifyReply, id: string, events: ResponseEventLog, from: number): Promise<FastifyReply> {
  await streamSse(reply, {
    events: events.follow(from),
    toChunks: (event) => [event],
    usageChunk: null,
    headers: { "x-request-id": id },
    named: { eventOf: eventType, errorChunk: (error) => ({ type: "error", ...errorEventFields(error) }) },
  });
  return reply;
}

export async function responsesRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  const background = new BackgroundResponses(ctx, app.log);
  // Shutdown does not wait out background responses: they fail at once, ending their followers' streams.
  app.addHook("preClose", async () => background.abortAll());

  app.post<{ Body: ResponsesRequest }>("/v1/responses", { schema: { body: responsesRequestSchema } }, async (request, reply) => {
    const body = request.body;
    const prepared = prepareResponse(ctx, body);
    const { format } = prepared;
    if (body.background) {
      const { queued, events } = background.start(prepared, body.stream === true);
      if (events !== null) return followEvents(reply, format.id, events, 0);
      void reply.header("x-request-id", format.id);
      return queued;
    }
    const signal = clientAbortSignal(reply);
    const events = await startGeneration(ctx, [{ prompt: prepared.prompt, params: prepared.params }], { ...prepared.options, signal });
    if (body.stream) {
      const streamer = new ResponsesStreamer(format);
      await streamSse(reply, {
        events,
        toChunks: (event) => streamer.events(event.output),
        usageChunk: null,
        headers: { "x-request-id": format.id },
        named: { eventOf: eventType, errorChunk: (error) => streamer.errorEvent(error) },
      });
      if (streamer.completed !== null) keepResponse(ctx, prepared, streamer.completed);
      return reply;
    }
    const [final] = await collectFinal(events, 1);
    if (signal.aborted) throw new ApiError("client_closed_request", "The client closed the connection.");
    const response = finalResponse(format, final.outputs[0], final.numCachedTokens ?? 0);
    keepResponse(ctx, prepared, response);
    void reply.header("x-request-id", format.id);
    return response;
  });

  app.get<{ Params: { response_id: string }; Querystring: { stream?: string; starting_after?: string } }>(
    "/v1/responses/:response_id",
    { schema: { params: idParams, querystring: streamQuery } },
    async (request, reply) => {
      const id = request.params.response_id;
      const stored = storedResponse(ctx, id, "response_id");
      if (request.query.stream !== "true") return stored.response;
      // As in vLLM, only a streamed background response keeps its events to stream again.
      if (stored.events === undefined) throw new ApiError("invalid_parameter", "Only a background response created with 'stream': true can be streamed again.", "stream");
      return followEvents(reply, id, stored.events, Number(request.query.starting_after ?? -1) + 1);
    },
  );

  app.post<{ Params: { response_id: string } }>("/v1/responses/:response_id/cancel", { schema: { params: idParams } }, async (request) => {
    const id = request.params.response_id;
    storedResponse(ctx, id, "response_id");
    // vLLM cancels only queued or running background responses and answers anything else so.
    if (!(await background.cancel(id))) throw new ApiError("invalid_parameter", "Cannot cancel a synchronous response.", "response_id");
    return storedResponse(ctx, id, "response_id").response;
  });
}
