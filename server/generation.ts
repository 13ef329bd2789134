// Runs one engine request per prompt and merges their cumulative outputs into one ordered stream.
// Errors the engine raises before the first output (queue full, prompt too long) surface here,
// before any response header is sent, so they become proper HTTP errors.
import type { LoRARequest } from "../runtime/lora/lora-request.ts";
import { randomUUID } from "node:crypto";
import type { GenerateOptions } from "../runtime/engine/client.ts";
import { poolingFields, type PoolingRequestFields } from "../runtime/engine/pooling.ts";
import type { RequestOutput, SamplingParams } from "../runtime/engine/types.ts";
import type { ServerContext } from "./context.ts";
import type { RequestTracker } from "./metrics.ts";
import type { PreparedPrompt } from "./prompts.ts";

export interface EngineRequest {
  prompt: PreparedPrompt;
  params: SamplingParams;
}

export interface GenerationEvent {
  promptIndex: number;
  output: RequestOutput;
}

export interface GenerationOptions extends PoolingRequestFields {
  requestId: string;
  priority: number;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** The adapter the request's `model` names (null: the base model). */
  loraRequest: LoRARequest | null;
}

type Step = [index: number, result: IteratorResult<RequestOutput>];

/** A controller that the client's signal also aborts (until unlink), for the engine requests of one HTTP request. */
export function linkedAbort(signal: AbortSignal): { controller: AbortController; abort: () => void; unlink: () => void } {
  const controller = new AbortController();
  const abort = () => controller.abort();
  signal.addEventListener("abort", abort, { once: true });
  if (signal.aborted) abort();
  return { controller, abort, unlink: () => signal.removeEventListener("abort", abort) };
}

/** Submits every request, waits for each one's first output, and returns the merged stream. */
export async function startGeneration(
  ctx: ServerContext,
  requests: readonly EngineRequest[],
  options: GenerationOptions,
): Promise<AsyncIterable<GenerationEvent>> {
  // One controller for all prompts: an engine error on one aborts its siblings too.
  const { controller, abort, unlink } = linkedAbort(options.signal);
  const iterators: AsyncIterator<RequestOutput>[] = [];
  const trackers: RequestTracker[] = [];
  const release = () => {
    unlink();
    for (const it of iterators) void it.return?.().catch(() => undefined);
  };
  let firsts: IteratorResult<RequestOutput>[];
  try {
    requests.forEach((request, i) => {
      const generateOptions: GenerateOptions = {
        requestId: requests.length === 1 ? options.requestId : `${options.requestId}-${i}`,
        signal: controller.signal,
        priority: options.priority,
        loraRequest: options.loraRequest,
        ...poolingFields(options),
      };
      ctx.requestLogger?.logInputs(generateOptions.requestId, request.prompt, request.params, options.loraRequest);
      const outputs = ctx.engine.generate({ promptTokenIds: request.prompt.tokenIds }, request.params, generateOptions);
      iterators.push(outputs[Symbol.asyncIterator]());
      trackers.push(ctx.metrics.track());
    });
    firsts = await Promise.all(iterators.map((it) => it.next()));
  } catch (err) {
    abort();
    release();
    throw err;
  }
  return merge(iterators, firsts, trackers, () => {
    abort();
    release();
  }, unlink);
}

async function* merge(
  iterators: AsyncIterator<RequestOutput>[],
  firsts: IteratorResult<RequestOutput>[],
  trackers: RequestTracker[],
  cancel: () => void,
  done: () => void,
): AsyncGenerator<GenerationEvent> {
  const pending = new Map<number, Promise<Step>>();
  const advance = (i: number) => pending.set(i, iterators[i].next().then((r): Step => [i, r]));
  let completed = false;
  try {
    for (let i = 0; i < firsts.length; i++) {
      const first = firsts[i];
      if (first.done) continue;
      trackers[i].observe(first.value);
      yield { promptIndex: i, output: first.value };
      advance(i);
    }
    while (pending.size > 0) {
      const [i, result] = await Promise.race(pending.values());
      pending.delete(i);
      if (result.done) continue;
      trackers[i].observe(result.value);
      yield { promptIndex: i, output: result.value };
      advance(i);
    }
    completed = true;
  } finally {
    if (completed) {
      done();
    } else {
      for (const step of pending.values()) step.catch(() => undefined);
      for (const tracker of trackers) tracker.abandon();
      cancel();
    }
  }
}

/** The last (finished) output of every prompt, in prompt order. */
export async function collectFinal(events: AsyncIterable<GenerationEvent>, count: number): Promise<RequestOutput[]> {
  const finals: RequestOutput[] = new Array(count);
  for await (const { promptIndex, output } of events) finals[promptIndex] = output;
  return finals;
}

/** "cmpl-" / "chatcmpl-" (or "resp_", "msg_" ...) followed by 32 hex digits, as OpenAI's ids look. */
export function newResponseId(prefix: string, separator = "-"): string {
  return `${prefix}${separator}${randomUUID().replaceAll("-", "")}`;
}
