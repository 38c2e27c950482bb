// The `generate` command's summary and usage, apart from its code: main.ts lists and documents it
// without importing generateCommand.ts, which loads the engine and the native onnxruntime addon.

export const GENERATE_SUMMARY = 'continue text or tokens with GPT-2, printing each new token with its probability';

export const GENERATE_USAGE = `usage: model-lens generate --model DIR|ID (--text TEXT | --tokens ID,ID,…) [options]

Continues a prompt one token at a time on a key/value cache (each step runs only the new token).
  --model DIR|ID         the checkpoint folder, a Hub id, or demo (random weights), as for run
  --text TEXT            tokenize this text (BOS 50256 first unless --no-bos)
  --tokens IDS           comma-separated token ids, used exactly as given (no BOS added)
  --no-bos               do not prepend BOS to --text
  --max-new-tokens N     at most N new tokens (default 32); also stops at <|endoftext|> or n_ctx
  --temperature T        0 = greedy (argmax); otherwise logits / T before sampling (default 1)
  --top-k K              sample among the K likeliest tokens only (default 0 = all)
  --top-p P              sample among the smallest set of likeliest tokens reaching probability P,
                         in (0, 1] (default 1 = all)
  --seed S               the sampling generator's seed (default 0): same seed, same text
  --json                 print {"prompt":[ids…],"tokens":[{"id","text","prob","top":[{"id","prob"},…]},…]}
                         (prob: the model's probability of the token at its step, before
                         temperature or truncation; top: the 5 likeliest tokens at that step)
  --no-processing, --[no-]fold-ln, --[no-]center-writing-weights, --[no-]center-unembed,
  --[no-]fold-value-biases, --tl-version V, --device D
                         as for run
`;
