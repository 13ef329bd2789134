// vLLM's --lora-modules: each value is name=path, or a JSON object {"name", "path"[, "base_model_name"]};
// the adapters are numbered 1, 2, ... in the order given and served under their names.
import { TsvllmError } from "../runtime/errors.ts";
import { LoRARequest } from "../runtime/lora/lora-request.ts";

export function loraModulesFlag(values: readonly string[] | undefined, enableLora: boolean | undefined): LoRARequest[] {
  if (!values || values.length === 0) return [];
  if (!enableLora) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "--lora-modules needs --enable-lora", "lora-modules");
  const fail = (value: string): never => {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--lora-modules takes name=path or {"name": ..., "path": ...}, got ${value}`, "lora-modules");
  };
  const requests = values.map((value, i) => {
    let name: unknown;
    let path: unknown;
    if (value.trimStart().startsWith("{")) {
      try {
        ({ name, path } = JSON.parse(value) as { name?: unknown; path?: unknown });
      } catch {
        fail(value);
      }
    } else {
      const at = value.indexOf("=");
      [name, path] = at > 0 ? [value.slice(0, at), value.slice(at + 1)] : [undefined, undefined];
    }
    if (typeof name !== "string" || typeof path !== "string" || name === "" || path === "") return fail(value);
    return new LoRARequest(name, i + 1, path);
  });
  const names = requests.map((r) => r.loraName);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated !== undefined) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--lora-modules names "${repeated}" twice`, "lora-modules");
  return requests;
}
