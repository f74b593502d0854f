// EIP-2612 permits. Kept apart from chain.ts (and importing TypeChain types only) so Hardhat
// tasks can use it while the config loads, before the first compile generates TypeChain code.
import { Signature, type Provider, type Signer } from "ethers";
import type { NKMSToken } from "../../typechain-types";

/** An EIP-2612 permit from `owner` for `spender` to take `value` tokens. */
export async function signPermit(
  token: NKMSToken,
  owner: Signer,
  spender: string,
  value: bigint,
  deadline: bigint,
): Promise<{ deadline: bigint; v: number; r: string; s: string }> {
  const address = await owner.getAddress();
  const [nonce, name, network, tokenAddress] = await Promise.all([
    token.nonces(address),
    token.name(),
    owner.provider!.getNetwork(),
    token.getAddress(),
  ]);
  const signature = await owner.signTypedData(
    { name, version: "1", chainId: network.chainId, verifyingContract: tokenAddress },
    {
      Permit: [
        { name: "owner", type: "address" },
        { name: "spender", type: "address" },
        { name: "value", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    },
    { owner: address, spender, value, nonce, deadline },
  );
  const { v, r, s } = Signature.from(signature);
  return { deadline, v, r, s };
}

/** A permit deadline an hour past the chain's clock (which may run ahead of the wall clock in tests). */
export async function permitDeadline(provider: Provider): Promise<bigint> {
  const block = await provider.getBlock("latest");
  return BigInt((block?.timestamp ?? Math.floor(Date.now() / 1000)) + 3600);
}
