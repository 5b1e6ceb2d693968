/**
 * Counting the messages in a WebSocket byte stream (RFC 6455 framing) that
 * tsgw only passes through: the frame headers are read, the payloads
 * skipped, whatever pieces the bytes come in. Pure: unit-tested on bytes.
 */
export class MessageCounter {
  /** payload bytes of the current frame still to pass */
  private skip = 0;
  /** the header read so far, up to 14 bytes */
  private readonly head = new Uint8Array(14);
  private have = 0;

  /** The whole messages these bytes complete: final frames of text, binary or continuation (control frames are not messages). */
  feed(bytes: Uint8Array): number {
    let messages = 0;
    let i = 0;
    const n = bytes.length;
    while (i < n) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, n - i);
        this.skip -= k;
        i += k;
        continue;
      }
      const h = this.head;
      h[this.have++] = bytes[i++]!;
      if (this.have < 2) continue;
      const short = h[1]! & 0x7f;
      const need = 2 + (short === 126 ? 2 : short === 127 ? 8 : 0) + (h[1]! & 0x80 ? 4 : 0);
      if (this.have < need) continue;
      // (a 2^63 length loses precision as a number, and skips past the connection's end all the same)
      this.skip = short === 126 ? (h[2]! << 8) | h[3]! : short === 127 ? Number(new DataView(h.buffer).getBigUint64(2)) : short;
      if (h[0]! & 0x80 && (h[0]! & 0x0f) < 8) messages++;
      this.have = 0;
    }
    return messages;
  }
}
