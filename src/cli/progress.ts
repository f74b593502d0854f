/**
 * Byte progress bars on stderr (cli-progress), for large transfers. Drawn when stderr is a terminal
 * and the transfer is large (or of unknown size); `--progress` draws it anyway (on a non-terminal,
 * a line every 2 s and a final one), `--no-progress` never.
 */
import { Transform } from "node:stream";
import { SingleBar } from "cli-progress";

const MIN_BYTES = 1024 * 1024;
const MiB = 1024 * 1024;

const mib = (n: number) => (n / MiB).toFixed(1);

export class ByteProgress {
  private bar: SingleBar | undefined;
  private decided = false;
  private readonly started = Date.now();

  /** `force`: true always draws, false never, undefined decides by terminal and size. */
  constructor(
    private readonly label: string,
    private readonly force: boolean | undefined,
  ) {}

  private begin(total: number | undefined): void {
    this.decided = true;
    const enabled = this.force ?? (process.stderr.isTTY === true && (total === undefined || total >= MIN_BYTES));
    if (!enabled) return;
    const known = total !== undefined && total > 0;
    this.bar = new SingleBar({
      stream: process.stderr,
      noTTYOutput: this.force === true,
      hideCursor: false,
      format: known
        ? `${this.label} [{bar}] {percentage}% | {done}/{size} MiB | {rate} MiB/s | ETA {eta_formatted}`
        : `${this.label} {done} MiB | {rate} MiB/s`,
      barCompleteChar: "#",
      barIncompleteChar: "-",
      barsize: 30,
    });
    this.bar.start(known ? total : 1, 0, { done: "0.0", size: known ? mib(total) : "?", rate: "0.0" });
  }

  /** Reports `bytes` transferred so far of `total` (when known). */
  update(bytes: number, total: number | undefined): void {
    if (!this.decided) this.begin(total);
    if (!this.bar) return;
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    const known = total !== undefined && total > 0;
    this.bar.update(known ? bytes : 0, { done: mib(bytes), rate: (bytes / MiB / seconds).toFixed(1) });
  }

  /** Draws the final state and releases the line. */
  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }

  /** A pass-through stream that reports the bytes flowing through it, and stops at the end. */
  transform(total: number | undefined): Transform {
    let bytes = 0;
    const stop = () => this.stop();
    const update = (n: number) => this.update(n, total);
    return new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        update(bytes);
        done(null, chunk);
      },
      flush(done) {
        stop();
        done();
      },
      destroy(err, done) {
        stop();
        done(err);
      },
    });
  }
}

/** The former helper: a pass-through bar for `label`, drawn when stderr is a terminal. */
export function progressBar(label: string, totalBytes: number | undefined, force?: boolean): Transform {
  return new ByteProgress(label, force).transform(totalBytes);
}
