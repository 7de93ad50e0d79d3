/** The regions of the docs the benchmark owns, each between two markers in one page. */

export interface Region {
  /** The page that holds the region, relative to the repository root. */
  page: string;
  start: string;
  end: string;
}

/** The full tables, in docs/benchmarks.md. */
export const TABLES: Region = { page: 'docs/benchmarks.md', start: '<!-- bench:start -->', end: '<!-- bench:end -->' };
/** The short comparison with the peers, in the README. */
export const PEERS: Region = { page: 'README.md', start: '<!-- peers:start -->', end: '<!-- peers:end -->' };

/** Replaces what lies between the region's markers (exclusive) with `content`; everything else stays byte for byte. */
export function replaceRegion(text: string, content: string, region: Region = TABLES): string {
  const { page, start: START, end: END } = region;
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`${page} has no ${START} … ${END} region`);
  }
  if (text.indexOf(START, start + 1) !== -1 || text.indexOf(END, end + 1) !== -1) {
    throw new Error(`${page} has more than one ${START} … ${END} region`);
  }
  return `${text.slice(0, start + START.length)}\n${content.trim()}\n${text.slice(end)}`;
}
