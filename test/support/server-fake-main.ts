// A server process over the FakeEngine, for tests that need a real process (signals, exit).
// Prints {"url": ...} on its first stdout line once it listens.
import { startServer } from "../../server/start.ts";
import { FakeEngine } from "./server-fake-engine.ts";

const engine = new FakeEngine({ tokenDelayMs: Number(process.env.FAKE_TOKEN_DELAY_MS ?? 20) });
const server = await startServer({ engine, host: "127.0.0.1", port: 0, logger: false, servedModelName: ["test-model"] });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
