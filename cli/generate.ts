// tsvllm generate --model M --prompt P [--max-tokens N] [--temperature T] [--seed S]: one
// completion, streamed to stdout as it is generated.
import { AsyncLLM, samplingParams } from "../index.ts";
import { intFlag, numberFlag, parseFlags } from "./args.ts";
import { engineFlags, llmOptions } from "./engine-options.ts";

export async function run(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, {
    ...engineFlags,
    prompt: { type: "string" },
    "max-tokens": { type: "string" },
    temperature: { type: "string" },
    "top-p": { type: "string" },
    "top-k": { type: "string" },
  });
  const llm = await AsyncLLM.create({ ...llmOptions(values), logger: () => {} });
  const params = samplingParams({
    maxTokens: intFlag(values["max-tokens"], "max-tokens", 128),
    temperature: numberFlag(values.temperature, "temperature", 0),
    topP: numberFlag(values["top-p"], "top-p", 1),
    topK: values["top-k"] === undefined ? 0 : intFlag(values["top-k"], "top-k", 0),
    seed: values.seed === undefined ? null : Number(values.seed),
  });
  let printed = 0;
  process.stdout.write(values.prompt ?? "");
  for await (const out of llm.generate(values.prompt ?? "", params, { requestId: "generate-0" })) {
    const text = out.outputs[0].text;
    process.stdout.write(text.slice(printed));
    printed = text.length;
  }
  process.stdout.write("\n");
  await llm.shutdown();
}
