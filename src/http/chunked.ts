// Finds where a chunked message body ends (RFC 9112 §7.1) without decoding it: the fast path relays the
// chunks byte for byte and only needs to know when the response is complete. A small state machine over
// Buffers, fed in pieces.

const enum S {
  Size,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerLine,
  TrailerLf,
  EndLf,
  Done,
}

export class ChunkedBodyEnd {
  private state = S.Size;
  private size = 0;
  private sizeDigits = 0;
  private remaining = 0;

  get done(): boolean {
    return this.state === S.Done;
  }

  /**
   * Scans `buf` from `start`; returns the index just past the end of the body when it ends in this piece,
   * -1 when more is needed. Throws on framing that is not chunked encoding.
   */
  scan(buf: Buffer, start = 0): number {
    let i = start;
    const n = buf.length;
    while (i < n) {
      switch (this.state) {
        case S.Data: {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.state = S.DataCr;
          continue;
        }
        case S.Size: {
          const c = buf[i]!;
          const v = c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1;
          if (v >= 0) {
            if (++this.sizeDigits > 12) throw new Error('chunk size too large');
            this.size = this.size * 16 + v;
          } else if (this.sizeDigits === 0) {
            throw new Error('chunk size expected');
          } else if (c === 0x3b || c === 0x20 || c === 0x09) {
            this.state = S.Ext;
          } else if (c === 0x0d) {
            this.state = S.SizeLf;
          } else {
            throw new Error('bad chunk size line');
          }
          break;
        }
        case S.Ext:
          if (buf[i] === 0x0d) this.state = S.SizeLf;
          break;
        case S.SizeLf:
          if (buf[i] !== 0x0a) throw new Error('LF expected after chunk size');
          if (this.size === 0) {
            this.state = S.TrailerStart;
          } else {
            this.remaining = this.size;
            this.state = S.Data;
          }
          this.size = 0;
          this.sizeDigits = 0;
          break;
        case S.DataCr:
          this.state = required(buf[i], 0x0d, 'CR expected after chunk data', S.DataLf);
          break;
        case S.DataLf:
          this.state = required(buf[i], 0x0a, 'LF expected after chunk data', S.Size);
          break;
        case S.TrailerStart:
          this.state = buf[i] === 0x0d ? S.EndLf : S.TrailerLine;
          break;
        case S.TrailerLine:
          if (buf[i] === 0x0d) this.state = S.TrailerLf;
          break;
        case S.TrailerLf:
          this.state = required(buf[i], 0x0a, 'LF expected after trailer field', S.TrailerStart);
          break;
        case S.EndLf:
          this.state = required(buf[i], 0x0a, 'LF expected at the end of the chunked body', S.Done);
          return i + 1;
        case S.Done:
          return i;
      }
      i++;
    }
    return -1;
  }
}

/** `next` when `byte` is the one the framing requires here; otherwise the body is not chunked encoding. */
function required(byte: number | undefined, wanted: number, error: string, next: S): S {
  if (byte !== wanted) throw new Error(error);
  return next;
}
