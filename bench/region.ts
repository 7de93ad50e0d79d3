/** The region of the benchmarks page the benchmark owns, between two markers. */

/** The page that holds the region, relative to the repository root. */
export const PAGE = 'docs/benchmarks.md';

export const START = '<!-- bench:start -->';
export const END = '<!-- bench:end -->';

/** Replaces what lies between the markers (exclusive) with `content`; everything else stays byte for byte. */
export function replaceRegion(text: string, content: string): string {
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`${PAGE} has no ${START} … ${END} region`);
  }
  if (text.indexOf(START, start + 1) !== -1 || text.indexOf(END, end + 1) !== -1) {
    throw new Error(`${PAGE} has more than one ${START} … ${END} region`);
  }
  return `${text.slice(0, start + START.length)}\n${content.trim()}\n${text.slice(end)}`;
}
