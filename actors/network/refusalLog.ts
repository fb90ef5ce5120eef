/**
 * Logs the requests a node refuses, naming who sent them, without letting a flood fill the log: per sender and
 * refusal code, the first refusal is logged at once, later ones within `intervalMs` are only counted, and the count is
 * logged once the interval is over ("refused 41 more request(s) from n2 with WRONG_CLUSTER within 1000 ms"). So one
 * sender with one fault costs at most two lines per interval.
 *
 * A sender is what the request claims (a batch's `from`) or, before that is known, its IP address; a hostile client
 * can vary either. Beyond `maxSenders` tracked at once, further senders share one entry per code, `other senders`, so
 * the log and the memory stay bounded whatever the flood.
 */

export interface Refusal {
  /** The batch's `from` when the request decoded that far, else the client's address. */
  readonly sender: string;
  /** The client's IP address, when the sender is a claimed node id. */
  readonly address: string | null;
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export interface RefusalLogOptions {
  readonly log: (line: string) => void;
  /** Default 1000 ms. */
  readonly intervalMs?: number;
  /** Default 256. */
  readonly maxSenders?: number;
  /** Milliseconds, for the interval. Default `Date.now`. */
  readonly now?: () => number;
}

/** One sender and code within its interval. */
interface Tally {
  readonly sender: string;
  readonly code: string;
  /** When the line that opened this interval was logged. */
  since: number;
  /** Refusals counted since, not logged. */
  suppressed: number;
}

const OTHER_SENDERS = 'other senders';
/** Longest sender or message text logged: both come from the network. */
const MAX_TEXT = 200;

export class RefusalLog {
  private readonly tallies = new Map<string, Tally>();
  private readonly intervalMs: number;
  private readonly maxSenders: number;
  private readonly now: () => number;
  /** Logs the counts of intervals that ended; set while any tally is open. */
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: RefusalLogOptions) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.maxSenders = options.maxSenders ?? 256;
    this.now = options.now ?? Date.now;
  }

  record(refusal: Refusal): void {
    const now = this.now();
    this.settle(now);
    const sender = printable(refusal.sender);
    let tally = this.tallies.get(`${sender}\n${refusal.code}`);
    const overflow = tally === undefined && this.tallies.size >= this.maxSenders;
    if (overflow) tally = this.tallies.get(`${OTHER_SENDERS}\n${refusal.code}`);
    if (tally !== undefined) {
      tally.suppressed++;
      return;
    }
    // Past the cap, one more entry per code (codes are few): later new senders are counted there.
    const tallied = overflow ? OTHER_SENDERS : sender;
    this.tallies.set(`${tallied}\n${refusal.code}`, { sender: tallied, code: refusal.code, since: now, suppressed: 0 });
    const from = refusal.address === null || refusal.address === refusal.sender ? sender : `${sender} (${refusal.address})`;
    this.options.log(`refused a request from ${from}: ${refusal.status} ${refusal.code}: ${printable(refusal.message)}`);
    this.schedule();
  }

  /** Log what is still counted and stop the timer. */
  close(): void {
    this.settle(Number.POSITIVE_INFINITY);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Log the counts of the intervals that are over at `now`, and forget them. */
  private settle(now: number): void {
    for (const [key, tally] of this.tallies) {
      if (now - tally.since < this.intervalMs) continue;
      this.tallies.delete(key);
      if (tally.suppressed > 0) {
        this.options.log(`refused ${tally.suppressed} more request(s) from ${tally.sender} with ${tally.code} within ${this.intervalMs} ms`);
      }
    }
  }

  private schedule(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.settle(this.now());
      if (this.tallies.size > 0) this.schedule();
    }, this.intervalMs);
    this.timer.unref();
  }
}

/** `text` safe for one log line: control characters escaped, bounded in length. */
function printable(text: string): string {
  const line = text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}...` : text;
  return line.replace(/[\u0000-\u001f\u007f]/g, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
