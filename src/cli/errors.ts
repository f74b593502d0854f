/**
 * Exit codes of the `nkms` CLI. Scripts branch on these, so they never change meaning.
 * 0 success; 1 unexpected failure (a bug: please report it); 9 an account lacks ETH or NKMS;
 * 10 a paid policy's kfrags did not all reach their nodes (`nkms policies redeliver` completes it);
 * 11 busy: another node agent holds the data dir, the port is taken, or the operator's on-chain
 * endpoint is a live instance (it answered the operator challenge).
 *
 * | code | name        | meaning                                                                 |
 * |------|-------------|-------------------------------------------------------------------------|
 * | 0    | ok          | success                                                                 |
 * | 1    | internal    | unexpected failure: a bug, please report it (NKMS_DEBUG=1 prints the stack) |
 * | 2    | usage       | bad arguments, config or input                                          |
 * | 3    | notFound    | a file, object, policy or grant does not exist                          |
 * | 4    | chain       | the chain refused (revert, not bonded/staked, not enough eligible nodes) |
 * | 5    | unreachable | the chain or too few nodes answered                                     |
 * | 6    | denied      | a node refused (revoked, not the reader, conditions)                    |
 * | 7    | integrity   | data failed its check (tampered ciphertext, bad content id)             |
 * | 8    | keystore    | a keystore is missing, or the password is wrong                         |
 * | 9    | funds       | an account lacks ETH (gas) or NKMS                                      |
 * | 10   | partial     | kfrags did not all reach their nodes (`nkms policies redeliver`)        |
 * | 11   | busy        | data dir locked, port in use, or the on-chain endpoint is a live agent   |
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
  busy: 11,
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
