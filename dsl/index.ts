export * from "./dtype.ts";
export * from "./global.ts";
export * from "./primitives.ts";
export * from "./kernel.ts";
