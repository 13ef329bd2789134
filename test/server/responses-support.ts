// What the /v1/responses suites share: a template that writes the messages' contents alone (so the
// fake engine, which answers with its prompt reversed, says exactly what a test scripts), the
// openai client for a test server, and a stream's events.
import OpenAI from "openai";
import { renderChatTemplate } from "../../runtime/tokenizer/chat-template.ts";
import type { ChatMessage, ChatTemplateOptions } from "../../runtime/tokenizer/types.ts";
import { ByteTokenizer } from "../support/server-byte-tokenizer.ts";
import type { TestServer } from "../support/server-harness.ts";

export const M = "test-model";

/** Writes each message's content and its calls' names, nothing else. */
export class ContentsTokenizer extends ByteTokenizer {
  override applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    const template = "{% for m in messages %}{{ m.content }}{% if m.tool_calls %}{% for c in m.tool_calls %}[{{ c.function.name }}]{% endfor %}{% endif %}{% endfor %}";
    return renderChatTemplate({ template, bosToken: "<s>", eosToken: "</s>" }, messages, options);
  }
}

/** The input that makes the fake engine answer `text`. */
export const reversed = (text: string) => [...text].reverse().join("");

export const clientOf = (server: TestServer) => new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });

export async function streamEvents(server: TestServer, body: OpenAI.Responses.ResponseCreateParamsNonStreaming) {
  const events: OpenAI.Responses.ResponseStreamEvent[] = [];
  for await (const event of await clientOf(server).responses.create({ ...body, stream: true })) events.push(event);
  return events;
}
