// The servers the pooling-route suites (embeddings, score and rerank) run against: stories260K
// loaded as a pooling model and as a generative one, each behind its own server named "stories".
import type OpenAI from "openai";
import { AsyncLLM } from "../../index.ts";
import type { LLMOptions } from "../../runtime/engine/model-loader.ts";
import { createServer } from "../../server/app.ts";
import { listenWithClient } from "../support/server-harness.ts";

export interface PoolingServers {
  pooling: AsyncLLM;
  generative: AsyncLLM;
  /** The pooling server's address and an openai client for it. */
  base: string;
  client: OpenAI;
  generativeBase: string;
  close(): Promise<void>;
}

export async function startPoolingServers(options: LLMOptions): Promise<PoolingServers> {
  const pooling = await AsyncLLM.create({ ...options, task: "embed" });
  const generative = await AsyncLLM.create(options);
  const apps = [pooling, generative].map((engine) => createServer({ engine, servedModelName: ["stories"] }));
  const { base, client } = await listenWithClient(apps[0]);
  const generativeBase = (await listenWithClient(apps[1])).base;
  return {
    pooling,
    generative,
    base,
    client,
    generativeBase,
    async close() {
      for (const app of apps) await app.close();
      await pooling.shutdown();
      await generative.shutdown();
    },
  };
}
