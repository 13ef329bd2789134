#!/usr/bin/env node
// The `tsvllm` command: registers tsx's loader so the TypeScript sources run as they are (no build
// step between a checkout and `npx tsvllm serve`), then hands over to cli/main.ts.
import { register } from "tsx/esm/api";

register();
await import("./main.ts");
