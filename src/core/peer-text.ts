/**
 * Text the peer chose, repeated by callstate (a malformed answer in the error of the call it failed, a
 * method name or id on the inspection page): cut to a bounded length at the source. The peer sends up to
 * `maxPayload` (16 MiB by default on a client), which no error message or page should carry whole.
 */

/** Most characters of a peer's text that callstate repeats. */
const MAX_TEXT = 200;

/**
 * `text` at most MAX_TEXT characters long, in memory of its own. A plain `slice` is, in V8, a view of the
 * string it was cut from, which it keeps alive: the inspection page, holding 5,500 cut method names, held the
 * whole peer-sent string behind each (up to 1 MiB from POST /ingest, `maxPayload` from a served peer).
 * Joining its characters again makes a new string.
 */
export const cutText = (text: string) => (text.length > MAX_TEXT ? text.slice(0, MAX_TEXT).split('').join('') : text);

/** `text` as an error message quotes it: cut as `cutText` does, '…' saying where it was cut. */
export const quotedText = (text: string) => {
  const shown = cutText(text);
  return shown.length < text.length ? `${shown}…` : shown;
};
