// The panel's one message channel to the host. Incoming notifications go to the handler main.ts
// registers, so views can import the channel without importing main.
import { activationHostSchemas, type ActivationProtocol } from '../../src/protocol/activation';
import { WebviewChannel } from '../shared/messaging';

type HostNotification = ActivationProtocol['toWebview'];
let handler: (msg: HostNotification) => void = () => undefined;

export const channel = new WebviewChannel<ActivationProtocol>(activationHostSchemas, (msg) => handler(msg));

export function onHostMessage(fn: (msg: HostNotification) => void): void {
  handler = fn;
}
