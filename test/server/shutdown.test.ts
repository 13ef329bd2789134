// SIGTERM: the server stops accepting, lets the in-flight stream finish, and exits 0 within 10 s.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { suite } from "uvu";
import * as assert from "uvu/assert";

const test = suite("server: graceful shutdown");

test("SIGTERM drains the in-flight stream, refuses new work and exits 0 within 10 s", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", "test/support/server-fake-main.ts"], {
    env: { ...process.env, FAKE_TOKEN_DELAY_MS: "20" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const [line] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
    const { url } = JSON.parse(line) as { url: string };
    const response = await fetch(`${url}/v1/completions`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "drain me", max_tokens: 40, ignore_eos: true, stream: true }),
    });
    const reader = response.body!.getReader();
    await reader.read();
    const signalled = Date.now();
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
    assert.ok(rest.includes('"finish_reason":"length"'), "the in-flight stream ran to its end");
    assert.ok(rest.trimEnd().endsWith("data: [DONE]"));
    const late = await fetch(`${url}/health`).then((r) => r.status, () => "refused");
    assert.ok(late === "refused" || late === 503, `a request after SIGTERM is refused (${late})`);
    const [code] = (await exited) as [number | null];
    assert.is(code, 0);
    assert.ok(Date.now() - signalled < 10_000);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

test.run();
