/**
 * While `task` runs, SIGINT/SIGTERM remove the temporary files of open AtomicFiles (partial
 * plaintext) and end the process with the shell's code for that signal (130, 143). Installed only
 * around such a task: long-running commands (node run) keep their own graceful shutdown.
 */
import { AtomicFile } from "../client/atomic-file";

const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

export async function removingPartialsOnSignal<T>(task: () => Promise<T>): Promise<T> {
  const handlers = Object.entries(SIGNAL_EXIT).map(([signal, code]) => {
    const handler = () => {
      AtomicFile.abortAllSync();
      process.exit(code);
    };
    process.on(signal as NodeJS.Signals, handler);
    return () => process.removeListener(signal as NodeJS.Signals, handler);
  });
  try {
    return await task();
  } finally {
    for (const remove of handlers) remove();
  }
}
