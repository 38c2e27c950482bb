// The activation panel's UI checks and screenshots in the light theme (see activation.e2e.ts).
import { activationSuite } from './activation.e2e';

export const suite = activationSuite('light');
