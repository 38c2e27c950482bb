// The .safetensors viewer: the file's header as tables, one per module group, with the
// metadata on top. Read-only; everything arrives in one st/header message from the host.
import '../../media/safetensors.css';
import { assertNever } from '../../src/protocol/envelope';
import { safetensorsHostSchemas, type SafetensorsHeaderMessage, type SafetensorsProtocol } from '../../src/protocol/safetensors';
import { WebviewChannel } from '../shared/messaging';
import { el } from '../shared/ui';

const app = document.getElementById('app')!;

function bytesText(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

function render(msg: SafetensorsHeaderMessage): void {
  const { summary } = msg;
  app.replaceChildren();
  app.append(
    el('h1', 'st-title', msg.fileName),
    el(
      'p',
      'summary',
      `${summary.tensorCount.toLocaleString()} tensors · ${bytesText(summary.dataBytes)} of data · file ${bytesText(summary.fileBytes)} · header only, read-only · click a tensor to open it`,
    ),
  );
  if (summary.metadata.length > 0) {
    const meta = el('table', 'st-meta');
    meta.dataset.testid = 'st-metadata';
    for (const [k, v] of summary.metadata) {
      const tr = el('tr');
      tr.append(el('th', undefined, k), el('td', undefined, v));
      meta.append(tr);
    }
    app.append(el('h2', undefined, 'Metadata'), meta);
  }
  let rows = 0;
  for (const group of summary.groups) {
    const details = el('details', 'st-group');
    details.open = true;
    const bytes = group.tensors.reduce((s, t) => s + t.bytes, 0);
    details.append(el('summary', undefined, `${group.module || '(top level)'} · ${group.tensors.length} · ${bytesText(bytes)}`));
    const table = el('table', 'st-tensors');
    const head = el('tr');
    head.append(el('th', undefined, 'name'), el('th', undefined, 'dtype'), el('th', undefined, 'shape'), el('th', 'num', 'bytes'));
    table.append(head);
    for (const t of group.tensors) {
      const tr = el('tr', 'st-row');
      tr.dataset.tensor = t.name;
      tr.tabIndex = 0;
      tr.title = `Open ${t.name} in the tensor view`;
      const open = (): void => channel.notify({ type: 'st/openTensor', name: t.name });
      tr.addEventListener('click', open);
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') open();
      });
      tr.append(
        el('td', 'st-name', t.name),
        el('td', undefined, t.dtype),
        el('td', 'st-shape', `[${t.shape.join(', ')}]`),
        el('td', 'num', t.bytes.toLocaleString()),
      );
      table.append(tr);
      rows++;
    }
    details.append(table);
    app.append(details);
  }
  channel.notify({ type: 'st/rendered', rows, groups: summary.groups.length });
}

const channel = new WebviewChannel<SafetensorsProtocol>(safetensorsHostSchemas, (msg) => {
  switch (msg.type) {
    case 'st/header':
      render(msg);
      break;
    case 'st/error':
      app.replaceChildren(el('p', 'summary error', msg.message));
      channel.notify({ type: 'st/rendered', rows: 0, groups: 0 });
      break;
    default:
      assertNever(msg, 'safetensors host message');
  }
});

channel.notify({ type: 'ready' });
