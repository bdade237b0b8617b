/**
 * The name a typo most likely meant: for a technician's `--conf` or `"timezome"`, the known name it starts, or
 * the nearest one at most two edits away (a letter missed, added, swapped or changed; one, for a name of four
 * letters or fewer). Undefined when none is that close: a wild guess is worse than none.
 */
export function closest(typed: string, known: Iterable<string>): string | undefined {
  const t = typed.toLowerCase();
  let best: string | undefined;
  // Two edits turn a short name into most others ("co" into "cows"): one for four letters or fewer.
  let bestDistance = t.length <= 4 ? 2 : 3;
  for (const name of known) {
    const n = name.toLowerCase();
    if (n === t) return name;
    const d = t.length >= 3 && n.startsWith(t) ? 1 : editDistance(t, n);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

/** Edits (insert, delete, change, swap of neighbours) from `a` to `b` (optimal string alignment). */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}
