// The server's public API.
export { createServer, defaultBodyLimit, type CreateServerOptions } from "./app.ts";
export { startServer, type RunningServer, type StartServerOptions } from "./start.ts";
export { ApiError, apiErrorCatalogue, type ApiErrorCode } from "./errors.ts";
export { maxLogprobs, maxN } from "./schemas/common.ts";
