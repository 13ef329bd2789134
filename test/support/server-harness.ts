// Starts a real server on a loopback port for tests. The engine is the deterministic FakeEngine
// unless TSVLLM_SERVER_TEST_ENGINE names a module exporting `createEngine(): Promise<EngineClient>`
// (so the same suites can run against the real engine); tests that read the fake's internals
// skip themselves when `fake` is null.
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import type { EngineClient } from "../../runtime/engine/client.ts";
import { createServer, type CreateServerOptions } from "../../server/app.ts";
import { FakeEngine, type FakeEngineOptions } from "./server-fake-engine.ts";

export interface TestServer {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  /** url + "/v1", for the openai client */
  baseURL: string;
  app: FastifyInstance;
  engine: EngineClient;
  fake: FakeEngine | null;
  close(): Promise<void>;
}

export interface TestServerOptions {
  fake?: FakeEngineOptions;
  server?: Omit<Partial<CreateServerOptions>, "engine">;
}

async function externalEngine(): Promise<EngineClient | null> {
  const modulePath = process.env.TSVLLM_SERVER_TEST_ENGINE;
  if (!modulePath) return null;
  const module = (await import(pathToFileURL(resolve(modulePath)).href)) as { createEngine(): Promise<EngineClient> };
  return module.createEngine();
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const external = await externalEngine();
  const fake = external ? null : new FakeEngine(options.fake);
  const engine = external ?? fake!;
  const app = createServer({ servedModelName: ["test-model"], ...options.server, engine });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseURL: `${url}/v1`,
    app,
    engine,
    fake,
    async close() {
      await app.close();
      if (external) await external.shutdown();
    },
  };
}

/** Serves a real-engine app on a loopback port: its URL and the official openai client for it. */
export async function listenWithClient(app: FastifyInstance): Promise<{ base: string; client: OpenAI }> {
  await app.listen({ host: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { base, client: new OpenAI({ baseURL: `${base}/v1`, apiKey: "unused", maxRetries: 0, timeout: 60_000 }) };
}

/** POSTs a JSON (or raw) body and returns the status and parsed JSON answer. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const raw = body instanceof Uint8Array
    ? (body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer)
    : typeof body === "string" ? body : JSON.stringify(body);
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: raw });
  const text = await response.text();
  return { status: response.status, json: text === "" ? null : JSON.parse(text) };
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return check();
}

/** A metric's value from Prometheus text, e.g. metricValue(text, "vllm:num_requests_running"). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return null;
}
