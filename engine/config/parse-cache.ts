/**
 * Parsed config texts, kept between loads of one configs directory: a reload parses again only
 * the files whose text changed. With 200 pipeline files, parsing every file at every reload was
 * most of what one edited file cost before it was served.
 */
import { parseConfigText, type ParseOutcome } from './parse.js';

interface Entry {
  readonly outcome: ParseOutcome;
  /** The load that last used it (entries unused by the last two loads are dropped). */
  used: number;
}

export class ParseCache {
  private readonly entries = new Map<string, Entry>();
  private load = 0;
  /** How many texts were parsed (not found here): what a test counts. */
  parsed = 0;

  /** Marks the start of a load; entries no load since the one before used are forgotten. */
  begin(): void {
    this.load++;
    for (const [k, e] of this.entries) if (e.used < this.load - 2) this.entries.delete(k);
  }

  /** `parseConfigText(text, path)`, from the cache when this path had this text. The value is a copy: a caller may change it. */
  parse(text: string, path: string): ParseOutcome {
    const key = `${path}\u0000${text}`;
    let e = this.entries.get(key);
    if (!e) {
      this.parsed++;
      e = { outcome: parseConfigText(text, path), used: this.load };
      this.entries.set(key, e);
    }
    e.used = this.load;
    const o = e.outcome;
    return o.ok ? { ok: true, parsed: { value: structuredClone(o.parsed.value), locate: (p) => o.parsed.locate(p) } } : { ok: false, diagnostics: o.diagnostics.map((d) => ({ ...d })) };
  }
}
