// Writes an edited message: an edit of the bytes it was read from. Untouched header lines (and the start
// line) are copied from those bytes, adjacent ones in one copy; only edited or added lines are written as
// text, into one buffer of the exact length.

import type { HeaderField } from './header-field.js';
import { allocOutgoing, writeLatin1 } from './out-buffer.js';

/**
 * The bytes of a message whose start line is `src[lineStart, lineEnd)` (lineStart -1: `firstLine` instead),
 * with `headers` in order, a Content-Length added when it had none, then `body`.
 */
export function serialise(src: Buffer, lineStart: number, lineEnd: number, firstLine: string, headers: readonly HeaderField[], hasContentLength: boolean, body: Buffer): Buffer {
  const firstFromSource = lineStart >= 0;
  let length = firstFromSource ? lineEnd - lineStart + 2 : firstLine.length + 2;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    const at = h.rangeIn(src);
    length += (at >= 0 ? h.rangeEnd - at : h.line().length) + 2;
  }
  const contentLength = hasContentLength ? '' : `Content-Length: ${body.length}\r\n`;
  length += contentLength.length + 2 + body.length;
  const out = allocOutgoing(length);
  let off = 0;
  // A run of source bytes not yet copied, and text not yet written.
  let runStart = -1;
  let runEnd = -1;
  let text = '';
  if (firstFromSource) {
    runStart = lineStart;
    runEnd = lineEnd + 2;
  } else text = firstLine + '\r\n';
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    const at = h.rangeIn(src);
    if (at >= 0) {
      if (text !== '') {
        off += writeLatin1(out, text, off);
        text = '';
      }
      if (runStart >= 0 && runEnd === at) runEnd = h.rangeEnd + 2;
      else {
        if (runStart >= 0) off += src.copy(out, off, runStart, runEnd);
        runStart = at;
        runEnd = h.rangeEnd + 2;
      }
    } else {
      if (runStart >= 0) {
        off += src.copy(out, off, runStart, runEnd);
        runStart = -1;
      }
      text += h.line() + '\r\n';
    }
  }
  if (runStart >= 0) off += src.copy(out, off, runStart, runEnd);
  text += contentLength + '\r\n';
  off += writeLatin1(out, text, off);
  body.copy(out, off);
  return out;
}
