// startServer: listen, and on SIGINT/SIGTERM stop accepting, let in-flight requests finish, shut
// the engine down and exit, all within the shutdown budget (10 s by default).
import type { FastifyInstance } from "fastify";
import { createServer, type CreateServerOptions } from "./app.ts";

export interface StartServerOptions extends CreateServerOptions {
  /** Default "0.0.0.0" (all interfaces), as vLLM. */
  host?: string;
  /** Default 8000, as vLLM; 0 picks a free port. */
  port?: number;
  /** Install SIGINT/SIGTERM handlers that drain and then exit the process (default true). */
  handleSignals?: boolean;
  /** Total time shutdown may take before connections are cut and the process exits (default 10 s). */
  shutdownTimeoutMs?: number;
}

export interface RunningServer {
  app: FastifyInstance;
  /** e.g. "http://127.0.0.1:8000" */
  url: string;
  /** Stops accepting, drains in-flight requests, then shuts the engine down. Idempotent. */
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const app = createServer({ logger: { level: "info" }, ...options });
  const host = options.host ?? "0.0.0.0";
  await app.listen({ host, port: options.port ?? 8000 });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port ?? 8000;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const budgetMs = options.shutdownTimeoutMs ?? 10_000;

  let closing: Promise<void> | null = null;
  const close = () => (closing ??= shutdown(app, options, budgetMs));

  if (options.handleSignals ?? true) {
    const onSignal = (signal: NodeJS.Signals) => {
      app.log.info(`${signal} received: draining in-flight requests (at most ${budgetMs / 1000} s)`);
      close().then(
        () => process.exit(0),
        (err: unknown) => {
          app.log.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
  return { app, url, close };
}

async function shutdown(app: FastifyInstance, options: StartServerOptions, budgetMs: number): Promise<void> {
  const drainMs = budgetMs * 0.8;
  // app.close() waits for in-flight requests (see drain.ts); past the drain time they are cut.
  const deadline = setTimeout(() => app.server.closeAllConnections(), drainMs);
  try {
    await app.close();
  } finally {
    clearTimeout(deadline);
  }
  await Promise.race([options.engine.shutdown(), sleep(budgetMs - drainMs)]);
}
