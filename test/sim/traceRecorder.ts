/** A run's trace: every line stamped with virtual time, hashed (the trace hash), and kept when asked for. */
import { createHash, type Hash } from 'node:crypto';

export class TraceRecorder {
  private readonly hash: Hash = createHash('sha256');
  /** Lines not yet fed to the hash: one update per line costs more than the hashing itself. */
  private unhashed = '';
  readonly lines: string[] | undefined;

  constructor(keep: boolean) {
    this.lines = keep ? [] : undefined;
  }

  record(now: number, line: string): void {
    const stamped = `${now.toFixed(3)} ${line}`;
    this.unhashed += `${stamped}\n`;
    if (this.unhashed.length > 1 << 16) this.flush();
    this.lines?.push(stamped);
  }

  /** The hash of every line so far (call once, at the end). */
  digest(): string {
    this.flush();
    return this.hash.digest('hex');
  }

  private flush(): void {
    this.hash.update(this.unhashed);
    this.unhashed = '';
  }
}
