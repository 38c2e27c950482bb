// The tensor view's command ids, in a module of their own (no vscode import) so the sidebar's
// plain-data nodes can name them.
export const TENSOR_COMMANDS = {
  /** A weight (`blocks.0.attn.W_Q`) or one head's circuit (`blocks.0.attn.OV[3]`); a sidebar node or a name. */
  openWeight: 'modelLens.openWeight',
  /** A hook point on the active editor's selection (the whole document when nothing is selected). */
  openHook: 'modelLens.openHookForSelection',
  exportHook: 'modelLens.exportHookForSelection',
  /** A tensor of a .safetensors file: (file path or URI, tensor name). */
  openFileTensor: 'modelLens.openSafetensorsTensor',
  nearestTokens: 'modelLens.nearestTokens',
  /** Hidden: every open tensor view (TensorViewState[]), for in-host tests. */
  state: 'modelLens.tensorView.state',
} as const;

/** `blocks.3.attn.OV[5]` → the circuit it names; anything else is not one. */
export function parseCircuitName(name: string): { which: 'OV' | 'QK'; layer: number; head: number } | null {
  const m = /^blocks\.(\d+)\.attn\.(OV|QK)\[(\d+)\]$/.exec(name);
  return m ? { layer: Number(m[1]), which: m[2] as 'OV' | 'QK', head: Number(m[3]) } : null;
}
