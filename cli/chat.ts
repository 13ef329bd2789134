// tsvllm chat --model M: an interactive chat in the terminal, through the model's chat template.
import readline from "node:readline/promises";
import { AsyncLLM, samplingParams } from "../index.ts";
import type { ChatMessage } from "../runtime/tokenizer/types.ts";
import { encodeChatPrompt } from "../runtime/tokenizer/index.ts";
import { intFlag, numberFlag, parseFlags } from "./args.ts";
import { engineFlags, llmOptions } from "./engine-options.ts";

export async function run(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, { ...engineFlags, "max-tokens": { type: "string" }, temperature: { type: "string" }, system: { type: "string" } });
  const llm = await AsyncLLM.create({ ...llmOptions(values), logger: () => {} });
  const params = samplingParams({ maxTokens: intFlag(values["max-tokens"], "max-tokens", 256), temperature: numberFlag(values.temperature, "temperature", 0.7) });
  const history: ChatMessage[] = values.system ? [{ role: "system", content: values.system }] : [];
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  process.stdout.write("(empty line or Ctrl-D to quit)\n");
  let turn = 0;
  for (;;) {
    const line = await rl.question("> ").catch(() => "");
    if (!line.trim()) break;
    history.push({ role: "user", content: line });
    const prompt = llm.tokenizer.applyChatTemplate(history, { addGenerationPrompt: true });
    let printed = 0;
    let reply = "";
    for await (const out of llm.generate({ promptTokenIds: encodeChatPrompt(llm.tokenizer, prompt) }, params, { requestId: `chat-${turn++}` })) {
      reply = out.outputs[0].text;
      process.stdout.write(reply.slice(printed));
      printed = reply.length;
    }
    process.stdout.write("\n");
    history.push({ role: "assistant", content: reply });
  }
  rl.close();
  await llm.shutdown();
}
