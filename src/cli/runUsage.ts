// The `run` command's summary and usage, apart from its code: main.ts lists and documents `run`
// without importing runCommand.ts, which loads the engine and the native onnxruntime addon.

export const RUN_SUMMARY = 'run GPT-2 on text or tokens: next-token top-k, activations to safetensors';

export const RUN_USAGE = `usage: model-lens run --model DIR|ID (--text TEXT | --file FILE | --tokens ID,ID,…) [options]

Runs GPT-2 from a Hugging Face folder (config.json + model.safetensors).
  --model DIR|ID       the checkpoint folder, a Hub id (openai-community/gpt2, gpt2-medium, …;
                       from the Hugging Face cache or downloaded into it) or demo (random weights)
  --text TEXT          tokenize this text (BOS 50256 first unless --no-bos; at most n_ctx tokens are kept)
  --file FILE          tokenize this UTF-8 file ('-': standard input) instead; read only as far as n_ctx tokens
  --tokens IDS         comma-separated token ids, used exactly as given (no BOS added)
  --no-bos             do not prepend BOS to --text
  --no-processing      from_pretrained_no_processing: all four switches below off
  --[no-]fold-ln, --[no-]center-writing-weights, --[no-]center-unembed, --[no-]fold-value-biases
                       from_pretrained's weight processing switches, each on by default as in
                       TransformerLens; e.g. the seed notebook's from_pretrained(fold_ln=True,
                       center_writing_weights=False, center_unembed=False) is
                       --no-center-writing-weights --no-center-unembed
  --attn-result        use_attn_result: also compute blocks.L.attn.hook_result
  --tl-version V       3 (default) or 2: TransformerLens release whose hook meanings to follow
                       (2: hook_normalized after LayerNorm's w, b; no unembed.hook_in/hook_out)
  --names GLOB         hook points to write (repeatable; '*' spans dots); default: all
  --out FILE           write one F32 tensor per hook point plus 'logits' [1, pos, d_vocab]
  --top-k K            print the K most likely next tokens after the last position (default 5 without --out)
  --device D           cpu | webgpu | cuda | auto (default cpu); falls back to cpu with a notice
  --dtype T            fp32 (default), fp16 or bf16: how the weights are stored (fp16, bf16: half
                       the memory, each weight rounded once; activations computed in float32)
`;
