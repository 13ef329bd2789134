// Runs cmake-js over a generated CMake project (the addons and the runtime core's library).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { TsvllmError } from "../../runtime/errors.ts";
import { repoRoot } from "./paths.ts";

/** Configures and builds the project in dir (into dir/build) on both cores; throws TSVLLM_ERR_BUILD with the compiler's errors unless `output` then exists. */
export function cmakeJsBuild(dir: string, name: string, output: string): void {
  const cmakeJs = path.join(repoRoot, "node_modules/cmake-js/bin/cmake-js");
  const result = spawnSync(process.execPath, [cmakeJs, "build", "-d", dir, "-O", path.join(dir, "build"), "-l", "error", "--parallel", "2"], {
    encoding: "utf8",
    env: { ...process.env },
  });
  if (result.status !== 0 || !fs.existsSync(output)) {
    const log = `${result.stdout ?? ""}\n${result.stderr ?? ""}`;
    throw new TsvllmError("TSVLLM_ERR_BUILD", `building ${name} failed:\n${log.split("\n").filter((l) => /error|Error/.test(l)).slice(0, 30).join("\n") || log.slice(-4000)}`);
  }
}
