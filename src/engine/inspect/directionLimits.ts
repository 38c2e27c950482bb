// How much one singular-directions request may ask for: the engine clamps to these, and the tensor
// view's protocol validates against them. No imports, so the webview's bundle can take it as well.

/** Singular directions of a head's circuit one request may ask for. */
export const MAX_DIRECTIONS = 16;
/** Tokens per end of each side of a direction. */
export const MAX_DIRECTION_TOKENS = 50;
