import type { ContractTransactionResponse } from "ethers";

/**
 * Sends one transaction at a time from the operator key and waits for it to be mined before the
 * next, so concurrent probes never race for a nonce (a failed gas estimate consumes no nonce,
 * unlike with a nonce manager that increments before sending).
 */
export class TxQueue {
  private tail: Promise<unknown> = Promise.resolve();

  send(build: () => Promise<ContractTransactionResponse>): Promise<string> {
    const run = this.tail.then(async () => {
      const tx = await build();
      await tx.wait();
      return tx.hash;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}
