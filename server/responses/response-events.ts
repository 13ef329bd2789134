// /v1/responses streamed: the Responses API's server-sent events, numbered by sequence_number.
// response.created and response.in_progress open the stream; each output item is announced
// (output_item.added, and content_part.added for a message's output_text or a reasoning item's
// reasoning_text), grows by deltas (output_text.delta, reasoning_text.delta,
// function_call_arguments.delta) and is closed by its done events once a later item appears or the
// answer ends; response.completed carries the whole Response, as vLLM ends every stream (a
// truncated answer is status "incomplete" there). With output log-probs included, each
// output_text.delta carries its tokens' log-probs (a last delta may carry only tokens, such as the
// end-of-sequence token).
import type { CompletionOutput, RequestOutput } from "../../runtime/engine/types.ts";
import { AutoToolCalls } from "../auto-tool-stream.ts";
import type { ApiError } from "../errors.ts";
import type { ChatLogprob } from "../logprobs.ts";
import { eventLogprobs, MessageLogprobs } from "./output-logprobs.ts";
import {
  draftText, finalResponse, itemJson, messageSpan, OutputIds, outputDrafts, reasoningPart, responseJson, responseStatus, textPart,
  type ItemStatus, type OutputDraft, type ResponsesFormat,
} from "./response.ts";

interface StreamedItem {
  draft: OutputDraft;
  /** Characters of its text sent so far. */
  sent: number;
  /** A message's log-probs sent so far. */
  logprobs: ChatLogprob[];
  done: boolean;
}

export class ResponsesStreamer {
  private sequenceNumber = 0;
  private started = false;
  private readonly items: StreamedItem[] = [];
  private readonly ids: OutputIds;
  /** With an "auto" tool choice, the answer's calls as they are generated. */
  private readonly autoCalls: AutoToolCalls | null;
  /** With output log-probs included, the message's tokens as they are written. */
  private readonly messageLogprobs: MessageLogprobs | null;
  /** The whole Response, once the answer has ended. */
  completed: Record<string, unknown> | null = null;

  constructor(private readonly f: ResponsesFormat) {
    this.ids = new OutputIds(f.toolChoice);
    this.autoCalls = f.toolChoice.kind === "auto" ? new AutoToolCalls(f.toolChoice.parser) : null;
    this.messageLogprobs = f.logprobs === null ? null : new MessageLogprobs(f.logprobs);
  }

  private event(type: string, fields: object): object {
    return { type, sequence_number: this.sequenceNumber++, ...fields };
  }

  events(output: RequestOutput): object[] {
    const events: object[] = [];
    if (!this.started) {
      this.started = true;
      const response = responseJson(this.f, "in_progress", [], null);
      events.push(this.event("response.created", { response }), this.event("response.in_progress", { response }));
    }
    const answer = output.outputs[0];
    const final = answer.finishReason !== null || output.finished;
    this.messageLogprobs?.read(answer, final);
    const knownReasoning = this.items[0]?.draft.type === "reasoning" ? this.items[0].sent : 0;
    const drafts = outputDrafts(this.f, answer.text, final, knownReasoning, this.autoCalls);
    drafts.forEach((draft, index) => {
      if (index === this.items.length) {
        if (index > 0) events.push(...this.close(index - 1));
        events.push(...this.open(index, draft));
      }
      events.push(...this.grow(index, draft, answer));
    });
    if (!final) return events;
    const status = responseStatus(answer);
    this.items.forEach((_, index) => events.push(...this.close(index, index === this.items.length - 1 ? status : "completed")));
    this.completed = finalResponse(this.f, answer, output.numCachedTokens ?? 0, this.ids, drafts);
    events.push(this.event("response.completed", { response: this.completed }));
    return events;
  }

  private open(index: number, draft: OutputDraft): object[] {
    this.items.push({ draft, sent: 0, logprobs: [], done: false });
    const ids = this.ids.of(index, draft);
    const added = this.event("response.output_item.added", { output_index: index, item: itemJson(draft, ids, "in_progress", "") });
    if (draft.type === "function_call") return [added];
    const part = draft.type === "message" ? textPart("") : reasoningPart("");
    return [added, this.event("response.content_part.added", { item_id: ids.id, output_index: index, content_index: 0, part })];
  }

  private grow(index: number, draft: OutputDraft, answer: CompletionOutput): object[] {
    const item = this.items[index];
    if (item.done) return [];
    item.draft = draft;
    const delta = draftText(draft).slice(item.sent);
    item.sent += delta.length;
    const at = { item_id: this.ids.of(index, draft).id, output_index: index };
    if (draft.type === "message") {
      const logprobs = this.messageLogprobs?.take(answer, messageSpan(draft)) ?? [];
      item.logprobs.push(...logprobs);
      if (delta === "" && logprobs.length === 0) return [];
      return [this.event("response.output_text.delta", { ...at, content_index: 0, delta, logprobs: eventLogprobs(logprobs) })];
    }
    if (delta === "") return [];
    switch (draft.type) {
      case "reasoning":
        return [this.event("response.reasoning_text.delta", { ...at, content_index: 0, delta })];
      case "function_call":
        return [this.event("response.function_call_arguments.delta", { ...at, delta })];
    }
  }

  private close(index: number, status: ItemStatus = "completed"): object[] {
    const item = this.items[index];
    if (item.done) return [];
    item.done = true;
    const { draft } = item;
    const ids = this.ids.of(index, draft);
    const at = { item_id: ids.id, output_index: index };
    const done = this.event.bind(this);
    const itemDone = () => done("response.output_item.done", { output_index: index, item: itemJson(draft, ids, status, draftText(draft), item.logprobs) });
    switch (draft.type) {
      case "message":
        return [
          done("response.output_text.done", { ...at, content_index: 0, text: draft.text, logprobs: eventLogprobs(item.logprobs) }),
          done("response.content_part.done", { ...at, content_index: 0, part: textPart(draft.text, item.logprobs) }),
          itemDone(),
        ];
      case "reasoning":
        return [
          done("response.reasoning_text.done", { ...at, content_index: 0, text: draft.text }),
          done("response.content_part.done", { ...at, content_index: 0, part: reasoningPart(draft.text) }),
          itemDone(),
        ];
      case "function_call":
        return [done("response.function_call_arguments.done", { ...at, name: draft.name, arguments: draft.arguments }), itemDone()];
    }
  }

  /** An error after the stream began, as the Responses API reports one: an `error` event. */
  errorEvent(error: ApiError): object {
    return this.event("error", errorEventFields(error));
  }
}

/** An `error` event's fields. */
export function errorEventFields(error: ApiError) {
  const { message, code, param } = error.toJSON().error;
  return { code, message, param };
}
