// Lists the API answers a page at a time, newest first (GET /alarms, GET /orders: ``limit``, ``offset`` and the
// ``total`` that match): the alarms grow a page at a time (Show older), the orders move a page at a time (Newer,
// Older). Read again on what the stream brings, a window at the top follows the newest (new ones come on top, the
// rest move down); one further down keeps to the items it shows, however many came on top since (at ~900 orders a
// day, a dispatcher reading yesterday's would otherwise see them slide away under the cursor).

export class Paging {
  /** ``read({ limit, offset })``: the API's answer for those items, the items under ``key``, each with an ``id``. */
  constructor(size, read, key) {
    Object.assign(this, { size, read, key });
    this.moved = 0;  // moves so far: a read begun before one answers for the old place, and is made again
    this.reset();
  }

  /** Back to the newest page alone (a filter changed: the old place means nothing). */
  reset() {
    this.moved += 1;
    this.offset = 0;  // of the first item shown
    this.pages = 1;  // shown from there
    this.anchor = null;  // the first item's id, further down: where the window stays
    this.items = [];
    this.total = 0;
  }

  /** One page more below those shown. */
  more() {
    this.pages += 1;
  }

  /** The window moved by its length, ``step`` 1 older, -1 newer, onto the pages' grid (a window that kept to its
   * items is off it: from the first page's second item, Newer goes to the first). */
  move(step) {
    this.moved += 1;
    this.offset = Math.max(0, (this.page - 1 + step * this.pages) * this.size);
    this.anchor = null;
  }

  /** The window's items read again (and ``total``); further down, from a page above it too, to find its first item
   * again wherever it went, the window following it. Past the end (fewer match now), the last page. */
  async load(again = true) {
    const moved = this.moved;
    const above = this.anchor == null ? 0 : Math.min(this.offset, this.size);
    const start = this.offset - above;
    const limits = [above, ...Array(this.pages).fill(this.size)].filter(Boolean);
    let next = start;
    const answers = await Promise.all(limits.map((limit) => {
      const offset = next;
      next += limit;
      return this.read({ limit, offset });
    }));
    const seen = new Set();  // (an item may move from one page to the next between their reads)
    const items = answers.flatMap((answer) => answer[this.key]).filter((item) => !seen.has(item.id) && seen.add(item.id));
    if (moved !== this.moved) return this.load(again);  // Newer, Older or a filter meanwhile
    const total = answers[answers.length - 1].total;
    const found = above ? items.findIndex((item) => item.id === this.anchor) : -1;
    const skip = found < 0 ? above : found;
    this.offset = start + skip;
    this.total = total;
    this.items = items.slice(skip, skip + this.pages * this.size);
    if (again && (found > above || (!this.items.length && this.offset > 0))) {
      // it moved down (the page read lacks its end), or nothing is left from here: read once more from there
      if (!this.items.length) this.offset = Math.max(0, this.pageCount - this.pages) * this.size;
      this.anchor = found > above ? this.anchor : null;
      return this.load(false);
    }
    this.anchor = this.offset > 0 && this.items.length ? this.items[0].id : null;
    this.pages = Math.max(1, Math.min(this.pages, Math.ceil((total - this.offset) / this.size)));  // none empty
    return this.items;
  }

  /** How many match below those shown. */
  get below() {
    return Math.max(0, this.total - this.offset - this.items.length);
  }

  /** The first page shown, counted from 1. */
  get page() {
    return Math.floor(this.offset / this.size) + 1;
  }

  /** How many pages match. */
  get pageCount() {
    return Math.max(1, Math.ceil(this.total / this.size));
  }
}
