/**
 * CSV text (RFC 4180: a header row, commas, double quotes with "" inside, CRLF or LF, a leading
 * byte-order mark) → records of text cells. Model samples (registry/stats.ts) and CSV datasets
 * (dataset.ts) both read it; each types the cells its own way.
 */

export interface CsvRecords {
  /** The header's column names, trimmed. */
  readonly header: string[];
  /** The records after the header, each as long as the header. */
  readonly records: string[][];
}

/** Splits CSV text into its header and records; `what` names the text in errors ("a CSV sample"). */
export function csvRecords(text: string, what: string): CsvRecords {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  let quoteRow = 0;
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let i = start; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (ch === '"') quoted = false; else field += ch;
    } else if (ch === '"' && field === '') { quoted = true; quoteRow = records.length + 1; }
    else if (ch === ',') { record.push(field); field = ''; } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      record.push(field); field = '';
      if (record.length > 1 || record[0] !== '') records.push(record);
      record = [];
    } else field += ch;
  }
  // Rows count as in the ragged-row error below: the header is row 1, blank lines are not rows.
  if (quoted) throw new Error(`${what}: row ${quoteRow} opens a quoted cell that is never closed (a '"' is missing), so the file ends inside it`);
  if (field !== '' || record.length) { record.push(field); records.push(record); }
  const header = records.shift()?.map((h) => h.trim());
  if (!header || header.length === 0 || header.some((h) => h === '')) throw new Error(`${what} needs a header row naming every column`);
  const dup = header.find((h, i) => header.indexOf(h) !== i);
  if (dup !== undefined) throw new Error(`${what} names column '${dup}' twice in its header`);
  records.forEach((r, i) => {
    if (r.length !== header.length) throw new Error(`${what}: row ${i + 2} has ${r.length} cells; the header has ${header.length}`);
  });
  return { header, records };
}

/** A cell that is a plain decimal number (not `0x10`, `1_000`, `Infinity` or blank). */
export const NUMBER_CELL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** A number written with a leading zero (`007`, `00123`): an id or a code, where `00123` and `123` are two values. */
export const LEADING_ZERO_CELL = /^[+-]?0\d/;
