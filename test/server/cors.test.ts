// CORS as vLLM applies it (--allowed-origins, --allow-credentials, --allowed-methods,
// --allowed-headers): by default any origin may call, preflights are answered before the API key
// is asked for, and an origin outside the list gets no Access-Control-Allow-Origin.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { startTestServer, type TestServer } from "../support/server-harness.ts";

const test = suite("server: CORS");
let open: TestServer;
let listed: TestServer;

test.before(async () => {
  open = await startTestServer({ server: { apiKey: "sk-right" } });
  listed = await startTestServer({ server: { cors: { allowedOrigins: ["https://good.example"], allowCredentials: true, allowedMethods: ["GET", "POST"], allowedHeaders: ["authorization", "content-type"] } } });
});
test.after(async () => {
  await open.close();
  await listed.close();
});

function preflight(server: TestServer, origin: string, headers = "authorization, content-type"): Promise<Response> {
  return fetch(`${server.url}/v1/chat/completions`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": headers },
  });
}

test("by default a preflight from any origin passes, without the API key, with every method and the asked headers", async () => {
  const response = await preflight(open, "https://anywhere.example", "authorization, x-custom");
  assert.is(response.status, 200);
  assert.is(response.headers.get("access-control-allow-origin"), "*");
  assert.is(response.headers.get("access-control-allow-methods"), "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT");
  assert.is(response.headers.get("access-control-allow-headers"), "authorization, x-custom");
  assert.is(response.headers.get("access-control-max-age"), "600");
  assert.is(response.headers.get("access-control-allow-credentials"), null);
});

test("by default an actual request from any origin is allowed, and still needs the key", async () => {
  const response = await fetch(`${open.url}/v1/models`, { headers: { origin: "https://anywhere.example", authorization: "Bearer sk-right" } });
  assert.is(response.status, 200);
  assert.is(response.headers.get("access-control-allow-origin"), "*");
  const refused = await fetch(`${open.url}/v1/models`, { headers: { origin: "https://anywhere.example" } });
  assert.is(refused.status, 401);
});

test("a listed origin is echoed, with credentials and the listed methods and headers", async () => {
  const response = await preflight(listed, "https://good.example");
  assert.is(response.status, 200);
  assert.is(response.headers.get("access-control-allow-origin"), "https://good.example");
  assert.is(response.headers.get("access-control-allow-credentials"), "true");
  assert.is(response.headers.get("access-control-allow-methods"), "GET, POST");
  assert.is(response.headers.get("access-control-allow-headers"), "authorization, content-type");
  const actual = await fetch(`${listed.url}/v1/models`, { headers: { origin: "https://good.example" } });
  assert.is(actual.headers.get("access-control-allow-origin"), "https://good.example");
});

test("an origin outside the list gets no Access-Control-Allow-Origin, so a browser blocks it", async () => {
  const response = await preflight(listed, "https://evil.example");
  assert.is(response.headers.get("access-control-allow-origin"), null);
  const actual = await fetch(`${listed.url}/v1/models`, { headers: { origin: "https://evil.example" } });
  assert.is(actual.status, 200, "the server answers; the browser withholds it");
  assert.is(actual.headers.get("access-control-allow-origin"), null);
});

test.run();
