// Search Vocabulary panel: a search box over GPT-2's 50,257 tokens and a virtual list of the
// matches. Searches run in the host (the tokenizer's Vocabulary), debounced while typing, and
// an answer to an older query is dropped when a newer one is in flight.
import '../../media/vocab.css';
import { assertNever } from '../../src/protocol/envelope';
import {
  VOCAB_SEARCH_MODES,
  vocabHostSchemas,
  type VocabProtocol,
  type VocabResults,
  type VocabSearchModeTag,
} from '../../src/protocol/vocab';
import { vscodeApi, WebviewChannel } from '../shared/messaging';
import { dropdown, el, flash, textField } from '../shared/ui';
import { VirtualList } from '../shared/virtualList';

const DEBOUNCE_MS = 120;
const ROW_HEIGHT = 26;

const MODE_LABELS: Record<VocabSearchModeTag, string> = {
  substring: 'Contains',
  prefix: 'Starts with',
  // RE2 syntax: linear time, so no backreferences or lookaround (the host explains a refusal).
  regex: 'Regex (RE2)',
  id: 'Token id',
};

let mode: VocabSearchModeTag = 'substring';
let results: VocabResults | undefined;
let searchSeq = 0;
let debounce: ReturnType<typeof setTimeout> | undefined;

const channel = new WebviewChannel<VocabProtocol>(vocabHostSchemas, (msg) => {
  switch (msg.type) {
    case 'vocab/init':
      mode = msg.mode;
      search.setValue(msg.query);
      modeRebuild(msg.mode);
      summary.textContent = `${msg.vocabSize.toLocaleString()} tokens`;
      void runSearch();
      break;
    default:
      assertNever(msg.type, 'vocab message');
  }
});

const app = document.getElementById('app')!;
const bar = el('div', 'search-bar');
const search = textField('Search GPT-2 tokens', '', () => scheduleSearch(), 'vocab-query');
let modeBox = makeModeBox(mode);
const summary = el('div', 'summary');
summary.dataset.testid = 'vocab-summary';
const status = el('div', 'status');
status.setAttribute('role', 'status');
status.dataset.testid = 'status';
const header = el('div', 'vocab-row vocab-head');
header.append(el('span', 'vocab-id', 'id'), el('span', 'vocab-display', 'token'));

const list = new VirtualList({
  rowHeight: ROW_HEIGHT,
  renderRow: (row, index) => {
    if (!results) return;
    const id = results.ids[index]!;
    row.classList.add('vocab-row');
    row.dataset.id = String(id);
    row.title = `Click to copy id ${id}`;
    const near = el('button', 'vocab-near', 'nearest');
    near.title = `Nearest tokens to ${id} by cosine similarity in W_E and W_U (loads the model)`;
    near.dataset.testid = 'vocab-nearest';
    near.addEventListener('click', (e) => {
      e.stopPropagation(); // the row's own click copies the id
      channel.notify({ type: 'vocab/nearest', id });
    });
    row.append(el('span', 'vocab-id', String(id)), el('span', 'vocab-display', results.displays[index] ?? ''), near);
  },
});
list.element.classList.add('vocab-list');
list.element.setAttribute('aria-label', 'Matching tokens');
list.element.addEventListener('click', (e) => {
  const row = (e.target as HTMLElement).closest('.virtual-row[data-id]') as HTMLElement | null;
  if (row) void copyId(Number(row.dataset.id));
});

bar.append(search.element, modeBox.element);
app.append(bar, summary, status, header, list.element);
search.focus();

function makeModeBox(initial: VocabSearchModeTag): ReturnType<typeof dropdown<VocabSearchModeTag>> {
  return dropdown(
    VOCAB_SEARCH_MODES.map((m) => ({ value: m, label: MODE_LABELS[m] })),
    initial,
    (value) => {
      mode = value;
      void runSearch();
    },
    'vocab-mode',
  );
}

/** The toolkit's dropdown has no reliable programmatic select before it upgrades; rebuild it. */
function modeRebuild(value: VocabSearchModeTag): void {
  const fresh = makeModeBox(value);
  modeBox.element.replaceWith(fresh.element);
  modeBox = fresh;
}

function scheduleSearch(): void {
  clearTimeout(debounce);
  debounce = setTimeout(runSearch, DEBOUNCE_MS);
}

async function runSearch(): Promise<void> {
  clearTimeout(debounce);
  const seq = ++searchSeq;
  const query = search.value();
  vscodeApi().setState({ query, mode });
  try {
    const reply = await channel.request({ type: 'vocab/search', query, mode });
    if (seq !== searchSeq) return; // a newer query superseded this one
    results = reply;
    summary.classList.remove('error');
    const shown = reply.ids.length;
    summary.textContent =
      shown < reply.total
        ? `${reply.total.toLocaleString()} matches (showing the first ${shown.toLocaleString()})`
        : `${reply.total.toLocaleString()} ${reply.total === 1 ? 'match' : 'matches'}`;
    list.setCount(shown);
  } catch (e) {
    if (seq !== searchSeq) return;
    results = undefined;
    list.setCount(0);
    summary.classList.add('error');
    summary.textContent = (e as Error).message.replace(/^failed: /, '');
  }
}

async function copyId(id: number): Promise<void> {
  try {
    await channel.request({ type: 'copyText', text: String(id), what: `token id ${id}` });
    flash(status, `Copied token id ${id} to the clipboard`);
  } catch (e) {
    flash(status, `Could not copy: ${(e as Error).message}`);
  }
}

channel.notify({ type: 'ready' });
