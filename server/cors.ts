// CORS as vLLM applies it with Starlette's CORSMiddleware (--allowed-origins, --allow-credentials,
// --allowed-methods, --allowed-headers; "*" allows any), through @fastify/cors. Starlette answers a
// preflight with the origin echoed when credentials are allowed (a browser refuses "*" with
// credentials), with every method for "*", and with the requested headers for "*".
import cors from "@fastify/cors";
import type { FastifyInstance } from "fastify";

export interface CorsOptions {
  allowedOrigins: readonly string[];
  allowCredentials: boolean;
  allowedMethods: readonly string[];
  allowedHeaders: readonly string[];
}

/** vLLM's defaults: any origin, method and header, no credentials. */
export const defaultCorsOptions: CorsOptions = { allowedOrigins: ["*"], allowCredentials: false, allowedMethods: ["*"], allowedHeaders: ["*"] };

/** What Starlette's "*" stands for in Access-Control-Allow-Methods. */
const allMethods = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

/** Starlette's preflight cache time (max_age). */
const maxAgeSeconds = 600;

export function installCors(app: FastifyInstance, options: CorsOptions): void {
  const anyOrigin = options.allowedOrigins.includes("*");
  void app.register(cors, {
    origin: anyOrigin ? (options.allowCredentials ? true : "*") : [...options.allowedOrigins],
    credentials: options.allowCredentials,
    methods: options.allowedMethods.includes("*") ? allMethods : [...options.allowedMethods],
    // Left unset, @fastify/cors echoes the request's Access-Control-Request-Headers.
    ...(options.allowedHeaders.includes("*") ? {} : { allowedHeaders: [...options.allowedHeaders] }),
    maxAge: maxAgeSeconds,
    // Starlette answers an allowed preflight 200 "OK".
    optionsSuccessStatus: 200,
  });
}
