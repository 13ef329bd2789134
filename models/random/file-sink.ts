// Sequential writes to a new file that count bytes and never stop short: writeSync may write less
// than asked, so each write loops until the whole buffer is on disk.

import { closeSync, openSync, writeSync } from "node:fs";

export class FileSink {
  private readonly fd: number;
  /** Bytes written so far. */
  position = 0;

  constructor(path: string) {
    this.fd = openSync(path, "w");
  }

  write(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
    this.position += bytes.length;
  }

  close(): void {
    closeSync(this.fd);
  }
}
