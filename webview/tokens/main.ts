// Tokenize Selection panel: token chips with ids, counts, BOS toggle and copy. Data comes from
// src/extension/tokenizePanel.ts over the contract in src/protocol/tokens.ts.
import { formatCount } from '../../src/common/counts';
import '../../media/tokens.css';
import { assertNever } from '../../src/protocol/envelope';
import { tokensHostSchemas, type TokensProtocol, type TokensResult } from '../../src/protocol/tokens';
import { vscodeApi, WebviewChannel } from '../shared/messaging';
import { button, checkbox, el, flash } from '../shared/ui';
import { ChipBlocks } from './chipBlocks';

const END_OF_TEXT_ID = 50256;

const app = document.getElementById('app')!;
const header = el('header', 'panel-header');
const title = el('h1', 'source', 'Tokenize Selection');
const range = el('span', 'range');
const counts = el('div', 'counts');
counts.dataset.testid = 'counts';
const controls = el('div', 'controls');
const status = el('div', 'status');
status.setAttribute('role', 'status');
status.dataset.testid = 'status';
const note = el('div', 'note');
note.dataset.testid = 'note';
const scroller = el('main', 'scroller');
const bosChip = el('span', 'chip bos');
bosChip.dataset.testid = 'bos-chip';
bosChip.title = 'Prepended beginning-of-sequence token';

let result: TokensResult | undefined;
let prependBos = false;
/** A result arriving in parts (see TokensResult.total): shown once complete. */
let incoming: { msg: TokensResult; ids: Int32Array; starts: Uint32Array; ends: Uint32Array; received: number } | undefined;

const channel = new WebviewChannel<TokensProtocol>(tokensHostSchemas, (msg) => {
  switch (msg.type) {
    case 'tokens/loading':
      showHeader(msg.source.label, msg.source.range);
      note.textContent = `Tokenizing ${msg.chars.toLocaleString()} characters… ${Math.round(msg.progress * 100)}%`;
      break;
    case 'tokens/result':
      if (msg.total !== undefined && msg.total > msg.ids.length) startIncoming(msg, msg.total);
      else {
        incoming = undefined;
        showResult(msg);
      }
      break;
    case 'tokens/more':
      if (incoming && msg.offset === incoming.received) {
        incoming.ids.set(msg.ids, msg.offset);
        incoming.starts.set(msg.starts, msg.offset);
        incoming.ends.set(msg.ends, msg.offset);
        incoming.received += msg.ids.length;
        const total = incoming.ids.length;
        if (incoming.received >= total) {
          const { msg: first, ids, starts, ends } = incoming;
          incoming = undefined;
          showResult({ ...first, ids, starts, ends, total: undefined });
        } else {
          note.textContent = `Receiving ${total.toLocaleString()} tokens… ${Math.round((incoming.received / total) * 100)}%`;
        }
      }
      break;
    case 'tokens/focus':
      chips.focus(msg.index);
      break;
    case 'tokens/failed':
      note.textContent = msg.message;
      note.classList.add('error');
      break;
    default:
      assertNever(msg, 'tokens message');
  }
});

const chips = new ChipBlocks(scroller, {
  onHover: (index) => channel.notify({ type: 'tokens/hover', index }),
  onClick: (index) => channel.notify({ type: 'tokens/reveal', index }),
});

const bosToggle = checkbox(
  'Prepend BOS (<|endoftext|>)',
  false,
  (value) => {
    prependBos = value;
    channel.notify({ type: 'tokens/setBos', value });
    renderBos();
    renderCounts();
  },
  'bos-toggle',
);

controls.append(
  bosToggle.element,
  button('Copy ids as JSON', () => void copyIds(), { testId: 'copy-ids', title: 'Copy the token ids as a JSON array' }),
);
header.append(title, range);
scroller.append(bosChip, chips.element);
app.append(header, counts, controls, status, note, scroller);
renderBos();

function startIncoming(msg: TokensResult, total: number): void {
  const n = msg.ids.length;
  incoming = { msg, ids: new Int32Array(total), starts: new Uint32Array(total), ends: new Uint32Array(total), received: n };
  incoming.ids.set(msg.ids);
  incoming.starts.set(msg.starts);
  incoming.ends.set(msg.ends);
  showHeader(msg.source.label, msg.source.range);
  note.classList.remove('error');
  note.textContent = `Receiving ${total.toLocaleString()} tokens… ${Math.round((n / total) * 100)}%`;
}

function showHeader(label: string, where: string): void {
  title.textContent = label;
  range.textContent = where;
}

function showResult(msg: TokensResult): void {
  result = msg;
  prependBos = msg.prependBos;
  bosToggle.setChecked(prependBos);
  vscodeApi().setState({ uri: msg.source.uri, start: msg.source.start, end: msg.source.end });
  showHeader(msg.source.label, msg.source.range);
  note.classList.remove('error');
  note.textContent = msg.note;
  bosChip.replaceChildren(el('span', 'chip-text', msg.bosDisplay), el('span', 'chip-id', String(END_OF_TEXT_ID)));
  const displays = new Map<number, string>();
  msg.vocabIds.forEach((id, i) => displays.set(id, msg.vocabDisplays[i] ?? `#${id}`));
  chips.show({ ids: msg.ids, displayOf: (id) => displays.get(id) ?? `#${id}` });
  renderBos();
  renderCounts();
}

function renderBos(): void {
  bosChip.hidden = !prependBos || result === undefined;
}

function renderCounts(): void {
  if (!result) {
    counts.textContent = '';
    return;
  }
  const n = result.ids.length;
  const perToken = n > 0 ? (result.chars / n).toFixed(2) : '–';
  counts.replaceChildren(
    count('characters', result.chars.toLocaleString(), 'count-chars'),
    // One rule for counts everywhere: the text's tokens, and "+ BOS" where the model gets one more.
    count('tokens', formatCount(n, navigator.language) + (prependBos ? ' + BOS' : ''), 'count-tokens'),
    count('characters per token', perToken, 'count-ratio'),
  );
}

function count(label: string, value: string, testId: string): HTMLElement {
  const box = el('span', 'count');
  const v = el('strong', 'count-value', value);
  v.dataset.testid = testId;
  box.append(v, el('span', 'count-label', ` ${label}`));
  return box;
}

async function copyIds(): Promise<void> {
  if (!result) return;
  const ids = Array.from(result.ids);
  if (prependBos) ids.unshift(END_OF_TEXT_ID);
  try {
    const reply = await channel.request({ type: 'copyText', text: JSON.stringify(ids), what: `${ids.length} token ids` });
    flash(status, `Copied ${ids.length.toLocaleString()} token ids (${reply.chars.toLocaleString()} characters) to the clipboard`);
  } catch (e) {
    flash(status, `Could not copy: ${(e as Error).message}`);
  }
}

channel.notify({ type: 'ready' });
