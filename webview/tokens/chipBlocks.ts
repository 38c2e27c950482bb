// Token chips for selections of any size. Tokens are grouped in blocks; a block's chips exist
// in the DOM only while the block is near the viewport, and a block that scrolls away is
// replaced by an empty box of its measured height. A 10 MB selection (millions of tokens)
// therefore costs one placeholder per block, and first paint renders one or two blocks.
import { el } from '../shared/ui';

export const BLOCK_SIZE = 400;

export interface ChipData {
  readonly ids: Int32Array;
  readonly displayOf: (id: number) => string;
}

export interface ChipEvents {
  readonly onHover: (index: number | null) => void;
  readonly onClick: (index: number) => void;
}

export class ChipBlocks {
  readonly element: HTMLElement;
  private blocks: HTMLElement[] = [];
  private rendered = new Set<number>();
  private observer: IntersectionObserver | undefined;
  private data: ChipData | undefined;
  private estimate = 0;
  private focused: number | null = null;
  private hovered: number | null = null;

  constructor(
    private readonly scroller: HTMLElement,
    events: ChipEvents,
  ) {
    this.element = el('div', 'chips');
    this.element.setAttribute('role', 'list');
    // One set of listeners for every chip (delegation), so blocks can come and go freely.
    this.element.addEventListener('mouseover', (e) => {
      const index = chipIndex(e.target);
      if (index !== this.hovered) {
        this.hovered = index;
        events.onHover(index);
      }
    });
    this.element.addEventListener('mouseleave', () => {
      if (this.hovered !== null) {
        this.hovered = null;
        events.onHover(null);
      }
    });
    this.element.addEventListener('click', (e) => {
      const index = chipIndex(e.target);
      if (index !== null) events.onClick(index);
    });
  }

  show(data: ChipData): void {
    this.observer?.disconnect();
    this.data = data;
    this.rendered.clear();
    this.focused = null;
    const count = Math.ceil(data.ids.length / BLOCK_SIZE);
    this.blocks = [];
    const frag = document.createDocumentFragment();
    for (let b = 0; b < count; b++) {
      const block = el('div', 'chip-block');
      block.dataset.block = String(b);
      this.blocks.push(block);
      frag.appendChild(block);
    }
    this.element.replaceChildren(frag);
    if (count === 0) return;
    // The first block sets the height estimate of the ones not yet seen.
    this.renderBlock(0);
    this.estimate = this.blocks[0]!.getBoundingClientRect().height || 200;
    for (let b = 1; b < count; b++) this.blocks[b]!.style.height = `${this.estimate}px`;
    this.observer = new IntersectionObserver((entries) => this.onIntersect(entries), {
      root: this.scroller,
      rootMargin: '600px 0px',
    });
    for (const block of this.blocks) this.observer.observe(block);
  }

  /** Marks chip `index` as the editor's cursor position and scrolls it into view. */
  focus(index: number | null): void {
    if (this.focused !== null) this.chip(this.focused)?.classList.remove('focused');
    this.focused = index;
    if (index === null || !this.data || index >= this.data.ids.length) return;
    const b = Math.floor(index / BLOCK_SIZE);
    if (!this.rendered.has(b)) this.renderBlock(b);
    const chip = this.chip(index);
    chip?.classList.add('focused');
    chip?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }

  private chip(index: number): HTMLElement | null {
    const b = Math.floor(index / BLOCK_SIZE);
    if (!this.rendered.has(b)) return null;
    return (this.blocks[b]!.children[index - b * BLOCK_SIZE] as HTMLElement | undefined) ?? null;
  }

  private onIntersect(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      const b = Number((entry.target as HTMLElement).dataset.block);
      if (entry.isIntersecting && !this.rendered.has(b)) this.renderBlock(b);
      else if (!entry.isIntersecting && this.rendered.has(b)) this.releaseBlock(b);
    }
  }

  private renderBlock(b: number): void {
    const data = this.data!;
    const block = this.blocks[b]!;
    const frag = document.createDocumentFragment();
    const end = Math.min(data.ids.length, (b + 1) * BLOCK_SIZE);
    for (let i = b * BLOCK_SIZE; i < end; i++) {
      const id = data.ids[i]!;
      const chip = el('span', i % 2 === 0 ? 'chip' : 'chip alt');
      chip.dataset.index = String(i);
      // Right-click → "Nearest Tokens" (package.json's webview/context menu gets this object).
      chip.dataset.vscodeContext = `{"webviewSection":"token","tokenId":${id}}`;
      chip.setAttribute('role', 'listitem');
      chip.appendChild(el('span', 'chip-text', data.displayOf(id)));
      chip.appendChild(el('span', 'chip-id', String(id)));
      if (i === this.focused) chip.classList.add('focused');
      frag.appendChild(chip);
    }
    block.replaceChildren(frag);
    block.style.height = '';
    this.rendered.add(b);
  }

  private releaseBlock(b: number): void {
    const block = this.blocks[b]!;
    block.style.height = `${block.getBoundingClientRect().height}px`;
    block.replaceChildren();
    this.rendered.delete(b);
  }
}

function chipIndex(target: EventTarget | null): number | null {
  const chip = (target as HTMLElement | null)?.closest?.('.chip[data-index]') as HTMLElement | null;
  return chip ? Number(chip.dataset.index) : null;
}
