import type { ContractTransactionResponse } from "ethers";

/** Gas used by a transaction once mined: what every gas key records (21k base and calldata included). */
export async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error("no receipt");
  return receipt.gasUsed;
}
