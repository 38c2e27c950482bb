// Activation patching and head detection in the light theme (see patching.e2e.ts): the README's screenshots.
import { patchingSuite } from './patching.e2e';

export const suite = patchingSuite('light');
