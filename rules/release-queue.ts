/**
 * The farm's held readings that touch the herd (FarmDetector), first measured first and, measured at the same
 * moment, by the cow's `orderKey`: a binary heap kept in three parallel arrays, so that queueing and taking a
 * reading allocates nothing (it is done for every reading that completes a cow's hour).
 */
export class ReleaseQueue<T extends { orderKey: number }> {
  private readonly ts: number[] = [];
  private readonly key: number[] = [];
  private readonly item: T[] = [];

  /** When the first entry was measured; Infinity when there is none. */
  firstTs(): number {
    return this.ts.length ? this.ts[0]! : Infinity;
  }

  /** The first entry's cow (the queue is not empty). */
  first(): T {
    return this.item[0]!;
  }

  push(ts: number, item: T): void {
    const key = item.orderKey;
    let i = this.ts.length;
    this.ts.push(ts);
    this.key.push(key);
    this.item.push(item);
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!before(ts, key, this.ts[up]!, this.key[up]!)) break;
      this.move(up, i);
      i = up;
    }
    this.set(i, ts, key, item);
  }

  /** Takes the first entry off. */
  shift(): void {
    const ts = this.ts.pop()!;
    const key = this.key.pop()!;
    const item = this.item.pop()!;
    const n = this.ts.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(this.ts[r]!, this.key[r]!, this.ts[l]!, this.key[l]!) ? r : l;
      if (!before(this.ts[c]!, this.key[c]!, ts, key)) break;
      this.move(c, i);
      i = c;
    }
    this.set(i, ts, key, item);
  }

  private move(from: number, to: number): void {
    this.set(to, this.ts[from]!, this.key[from]!, this.item[from]!);
  }

  private set(i: number, ts: number, key: number, item: T): void {
    this.ts[i] = ts;
    this.key[i] = key;
    this.item[i] = item;
  }
}

const before = (ts: number, key: number, otherTs: number, otherKey: number) => ts < otherTs || (ts === otherTs && key < otherKey);
