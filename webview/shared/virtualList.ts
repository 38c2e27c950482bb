// A fixed-row-height virtual list: only the rows in (and just around) the viewport exist in
// the DOM, so 50,257 rows scroll like 30. Rows are recycled on every scroll frame.
export interface VirtualListOptions {
  readonly rowHeight: number;
  /** Fills `row` (an empty div, reused) for item `index`. */
  readonly renderRow: (row: HTMLElement, index: number) => void;
  /** Extra rows rendered above and below the viewport. */
  readonly overscan?: number;
}

export class VirtualList {
  readonly element: HTMLElement;
  private readonly spacer: HTMLElement;
  private count = 0;
  private frame = 0;

  constructor(private readonly options: VirtualListOptions) {
    this.element = document.createElement('div');
    this.element.className = 'virtual-list';
    this.element.tabIndex = 0;
    this.spacer = document.createElement('div');
    this.spacer.className = 'virtual-list-spacer';
    this.element.appendChild(this.spacer);
    this.element.addEventListener('scroll', () => this.schedule());
    new ResizeObserver(() => this.schedule()).observe(this.element);
  }

  setCount(count: number): void {
    this.count = count;
    // CSSOM writes are allowed under the panel's CSP (inline style attributes are not).
    this.spacer.style.height = `${count * this.options.rowHeight}px`;
    this.element.scrollTop = 0;
    this.render();
  }

  /** Re-renders the visible rows (after their data changed). */
  refresh(): void {
    this.render();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private render(): void {
    const { rowHeight, renderRow } = this.options;
    const overscan = this.options.overscan ?? 8;
    const first = Math.max(0, Math.floor(this.element.scrollTop / rowHeight) - overscan);
    const visible = Math.ceil((this.element.clientHeight || 600) / rowHeight) + 2 * overscan;
    const last = Math.min(this.count, first + visible);
    const rows = Array.from(this.spacer.children) as HTMLElement[];
    const needed = last - first;
    while (rows.length < needed) {
      const row = document.createElement('div');
      row.className = 'virtual-row';
      this.spacer.appendChild(row);
      rows.push(row);
    }
    while (rows.length > needed) rows.pop()!.remove();
    for (let i = 0; i < needed; i++) {
      const row = rows[i]!;
      const index = first + i;
      row.style.transform = `translateY(${index * rowHeight}px)`;
      row.dataset.index = String(index);
      row.replaceChildren();
      renderRow(row, index);
    }
  }
}
