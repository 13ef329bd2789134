// Loads a built addon. Apart from addon.ts so that code running a prebuilt addon (the GPU check's
// bundle, a deployed server) does not pull in the build machinery.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export function loadAddon<T>(file: string): T {
  return require(file) as T;
}
