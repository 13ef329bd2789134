// Parsers of a model's own tool-call syntax, for tool_choice "auto" (vLLM's --tool-call-parser).
// hermes: Hermes 2 Pro and later, and Qwen2.5, whose templates ask for each call as
// <tool_call>{"name": ..., "arguments": {...}}</tool_call> after any text; a final call cut off
// before its closing tag still counts, as in vLLM.
export interface ParsedToolCall {
  name: string;
  /** The arguments as JSON text. */
  arguments: string;
}

export interface ToolCallParser {
  readonly name: string;
  /** Where tool calls begin: streamed text is held back from here (and while it may be the start of it). */
  readonly startTag: string;
  /** The text before the calls and the calls; null when the text holds no call that parses. */
  extract(text: string): { content: string; calls: ParsedToolCall[] } | null;
}

const hermes: ToolCallParser = {
  name: "hermes",
  startTag: "<tool_call>",
  extract(text) {
    const start = text.indexOf(this.startTag);
    if (start < 0) return null;
    const calls: ParsedToolCall[] = [];
    for (const match of text.matchAll(/<tool_call>([\s\S]*?)(?:<\/tool_call>|$)/g)) {
      let call: unknown;
      try {
        call = JSON.parse(match[1]);
      } catch {
        return null;
      }
      const { name, arguments: args } = (call ?? {}) as { name?: unknown; arguments?: unknown };
      if (typeof name !== "string") return null;
      calls.push({ name, arguments: JSON.stringify(args ?? {}) });
    }
    return { content: text.slice(0, start), calls };
  },
};

export const toolCallParsers: Readonly<Record<string, ToolCallParser>> = { hermes };
