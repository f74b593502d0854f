/** A progress bar on stderr for large transfers, drawn only when stderr is a terminal. */
import { Transform } from "node:stream";

const MIN_BYTES = 1024 * 1024;

export function progressBar(label: string, totalBytes: number | undefined): Transform {
  const enabled = process.stderr.isTTY === true && (totalBytes === undefined || totalBytes >= MIN_BYTES);
  let done = 0;
  let lastDraw = 0;
  const started = Date.now();
  const draw = (final: boolean) => {
    const now = Date.now();
    if (!final && now - lastDraw < 100) return;
    lastDraw = now;
    const seconds = Math.max((now - started) / 1000, 0.001);
    const rate = `${(done / seconds / 1024 / 1024).toFixed(1)} MiB/s`;
    const mib = `${(done / 1024 / 1024).toFixed(1)} MiB`;
    let bar = "";
    if (totalBytes) {
      const width = 30;
      const filled = Math.min(width, Math.round((done / totalBytes) * width));
      bar = `[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${Math.min(100, Math.floor((done / totalBytes) * 100))}% `;
    }
    process.stderr.write(`\r${label} ${bar}${mib} ${rate}\x1b[K${final ? "\n" : ""}`);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, callback) {
      done += chunk.length;
      if (enabled) draw(false);
      callback(null, chunk);
    },
    flush(callback) {
      if (enabled) draw(true);
      callback();
    },
  });
}
