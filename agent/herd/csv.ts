import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { collarIdOf } from '../ingest/lorawan.js';
import { isCollarId } from '../ingest/payload.js';
import { CowbellError } from '../errors.js';

/**
 * One cow as the farm's register (or its herd-management software's export) lists her. A field whose
 * column the file does not have is undefined: it leaves what the register says alone.
 */
export interface HerdRow {
  /** The cow number the farmer calls her by: the id alerts and messages use. */
  cow: string;
  name?: string | null;
  /** The collar she wears; null: none (a collar she had is taken off). */
  collar?: string | null;
  group?: string | null;
  /** ISO dates (YYYY-MM-DD). */
  calved?: string | null;
  inseminated?: string | null;
  notes?: string | null;
}

const FIELDS = ['cow', 'name', 'collar', 'group', 'calved', 'inseminated', 'notes'] as const;

/**
 * Column headings as farm software and spreadsheets write them, matched without case, spaces or
 * punctuation. Anything else is refused by name, so a misspelt heading is not silently a blank column.
 */
const ALIASES: Record<string, (typeof FIELDS)[number]> = {
  cow: 'cow', cownumber: 'cow', cowno: 'cow', cownr: 'cow', cowid: 'cow', number: 'cow', nr: 'cow', kuh: 'cow', kuhnr: 'cow', kuhnummer: 'cow',
  name: 'name',
  collar: 'collar', collarid: 'collar', deveui: 'collar', device: 'collar', deviceid: 'collar', tag: 'collar', halsband: 'collar',
  group: 'group', grp: 'group', pen: 'group', gruppe: 'group',
  calved: 'calved', calving: 'calved', calvingdate: 'calved', calvedon: 'calved', lastcalving: 'calved', kalbung: 'calved',
  inseminated: 'inseminated', insemination: 'inseminated', lastinsemination: 'inseminated', inseminatedon: 'inseminated', besamung: 'inseminated',
  notes: 'notes', note: 'notes', comment: 'notes', comments: 'notes', bemerkung: 'notes',
};

export const MAX_HERD_ROWS = 20_000;

/**
 * Reads a herd CSV: a heading row, then one cow per row; commas, semicolons (a spreadsheet set to a
 * European locale) or tabs. Every problem is listed with its line, and nothing is imported while any
 * remains: half a herd register is worse than the old one.
 */
export function parseHerdCsv(text: string): HerdRow[] {
  let records: string[][];
  try {
    records = parse(text, { bom: true, delimiter: [',', ';', '\t'], skip_empty_lines: true, trim: true, relax_column_count: true, to: MAX_HERD_ROWS + 1 });
  } catch (err) {
    throw new CowbellError('COWBELL_HERD_CSV', `herd file is not readable CSV: ${(err as Error).message}`);
  }
  const [heading, ...rows] = records;
  if (!heading) throw new CowbellError('COWBELL_HERD_CSV', 'herd file is empty: expected a heading row such as "cow,name,collar,group,calved,inseminated,notes"');
  const problems: string[] = [];
  const columns = heading.map((h) => {
    const field = ALIASES[h.toLowerCase().replace(/[^a-z]/g, '')];
    if (!field) problems.push(`line 1: unknown column "${h}" (known: ${FIELDS.join(', ')})`);
    return field;
  });
  if (!columns.includes('cow')) problems.push('line 1: no "cow" column (the cow number)');
  if (rows.length > MAX_HERD_ROWS) problems.push(`more than ${MAX_HERD_ROWS} cows: split the file`);
  const out: HerdRow[] = [];
  const seenCow = new Map<string, number>();
  const seenCollar = new Map<string, number>();
  rows.forEach((cells, i) => {
    const line = i + 2;
    const row: HerdRow = { cow: '' };
    columns.forEach((field, c) => {
      const v = cells[c]?.trim() ?? '';
      if (field === 'cow') row.cow = v;
      else if (field) row[field] = v || null;
    });
    const bad = (msg: string) => problems.push(`line ${line}: ${msg}`);
    if (!row.cow) return bad('no cow number');
    if (row.cow.length > 64 || /[\u0000-\u001f/#+]/.test(row.cow)) bad(`cow number "${row.cow}" must be 1–64 characters without / # + or control characters`);
    if (row.collar) {
      if (!isCollarId(row.collar)) bad(`collar "${row.collar}" is not a collar id (letters, digits, - _ . : up to 64)`);
      // DevEUIs are written in either case: named as the LoRaWAN sources name them.
      else row.collar = collarIdOf(row.collar);
    }
    for (const field of ['calved', 'inseminated'] as const) {
      const v = row[field];
      if (!v) continue;
      const iso = isoDate(v);
      if (iso) row[field] = iso;
      else bad(`${field} "${v}" is not a date: write 2026-03-14 or 14.03.2026`);
    }
    const dupCow = seenCow.get(row.cow);
    if (dupCow) bad(`cow ${row.cow} is listed twice (also line ${dupCow})`);
    seenCow.set(row.cow, line);
    if (row.collar) {
      const dupCollar = seenCollar.get(row.collar);
      if (dupCollar) bad(`collar ${row.collar} is on two cows (also line ${dupCollar})`);
      seenCollar.set(row.collar, line);
    }
    out.push(row);
  });
  if (problems.length) {
    const shown = problems.slice(0, 50);
    if (problems.length > shown.length) shown.push(`… and ${problems.length - shown.length} more`);
    throw new CowbellError('COWBELL_HERD_CSV', `herd file has ${problems.length} problem${problems.length === 1 ? '' : 's'}; nothing imported:\n  - ${shown.join('\n  - ')}`);
  }
  return out;
}

export function formatHerdCsv(rows: readonly HerdRow[]): string {
  return stringify(rows.map((r) => FIELDS.map((f) => r[f] ?? '')), { header: true, columns: [...FIELDS] });
}

/** YYYY-MM-DD or DD.MM.YYYY, checked to be a real day; null otherwise. */
function isoDate(v: string): string | null {
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  let [y, mo, d] = m ? [m[1], m[2], m[3]] : [];
  if (!m) {
    m = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/.exec(v);
    if (!m) return null;
    [d, mo, y] = [m[1]!.padStart(2, '0'), m[2]!.padStart(2, '0'), m[3]];
  }
  const iso = `${y}-${mo}-${d}`;
  const t = Date.parse(`${iso}T00:00:00Z`);
  return Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== iso ? null : iso;
}
