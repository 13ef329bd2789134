// JSON bodies are read as bytes so invalid UTF-8 is rejected instead of being silently replaced
// with U+FFFD (which would change the prompt the user sent).
import type { FastifyInstance } from "fastify";
import { ApiError } from "./errors.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function parseJsonBody(body: Buffer): unknown {
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    throw new ApiError("invalid_encoding", "The request body is not valid UTF-8.");
  }
  if (text.trim() === "") throw new ApiError("invalid_json", "The request body is empty; expected a JSON object.");
  try {
    return JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ApiError("invalid_json", `The request body is not valid JSON: ${reason}`);
  }
}

export function installJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}
