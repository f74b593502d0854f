/**
 * Exit codes of the `nkms` CLI. Scripts branch on these, so they never change meaning.
 * 0 success; 1 unexpected failure (a bug: please report it); 9 an account lacks ETH or NKMS;
 * 10 a paid policy's kfrags did not all reach their nodes (`nkms policies redeliver` completes it).
 */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  notFound: 3,
  chain: 4,
  unreachable: 5,
  denied: 6,
  integrity: 7,
  keystore: 8,
  funds: 9,
  partial: 10,
} as const;
export type ExitCodeName = keyof typeof ExitCode;

/** An error the CLI reports as one line with a distinct exit code. */
export class CliError extends Error {
  constructor(
    readonly exit: ExitCodeName,
    message: string,
  ) {
    super(message);
    this.name = "CliError";
  }
}
