// Funding accounts: `npx hardhat nkms:transfer --to 0x… [--amount A] [--eth E] [--network localhost]`.
// Stakers other than the deployer need NKMS to stake, an operator's hot key needs ETH for the
// registration and health-check transactions, and a data owner needs both to pay for policies.
// The NKMSToken address comes from the network's Ignition deployment unless --token is given.
import type { NKMSToken } from "../typechain-types";
import { TaskError, checkKind, contractAddress, formatTokens, operatorTask, parseTokens, requireAddress, requireBalance, send, sender } from "./lib";

operatorTask("nkms:transfer", "Send NKMS and/or ETH from the sending account to another (fund a staker, an operator, a data owner)")
  .addParam("to", "Recipient address")
  .addOptionalParam("amount", "NKMS to send (whole tokens, decimals allowed)")
  .addOptionalParam("eth", "ETH to send (for gas), e.g. 0.5")
  .addOptionalParam("token", "NKMSToken address (default: the network's Ignition deployment)")
  .addOptionalParam("from", "Account to send from (default: the first configured account)")
  .setAction(async (args: { to: string; amount?: string; eth?: string; token?: string; from?: string }, hre) => {
    const to = requireAddress(hre, args.to, "to");
    if (args.amount === undefined && args.eth === undefined) throw new TaskError("BAD_AMOUNT", "give --amount (NKMS), --eth, or both.");
    const amount = args.amount === undefined ? 0n : parseTokens(hre, args.amount, "amount");
    let wei = 0n;
    if (args.eth !== undefined) {
      try {
        wei = hre.ethers.parseEther(args.eth);
        if (wei <= 0n) throw new Error();
      } catch {
        throw new TaskError("BAD_AMOUNT", `--eth must be a positive ETH amount, got "${args.eth}".`);
      }
    }
    const signer = await sender(hre, args.from);
    const from = await signer.getAddress();
    const out: { to: string; nkms?: string; eth?: string } = { to };
    if (amount > 0n) {
      const address = await contractAddress(
        hre,
        "NKMS#NKMSToken",
        args.token,
        "Deploy with `npx hardhat ignition deploy ignition/modules/Network.ts --network <network>` or pass --token <address>.",
      );
      const token = (await hre.ethers.getContractAt("NKMSToken", address, signer)) as unknown as NKMSToken;
      await checkKind(hre, "NKMSToken", address, async () => {
        if ((await token.symbol()) !== "NKMS") throw new Error("not NKMS");
      });
      await requireBalance(hre, token, from, amount);
      await send([token.interface], `send ${formatTokens(hre, amount)} to ${to}`, () => token.transfer(to, amount));
      out.nkms = formatTokens(hre, amount);
    }
    if (wei > 0n) {
      const balance = await hre.ethers.provider.getBalance(from);
      if (balance < wei) {
        throw new TaskError("NO_ETH", `Insufficient ETH: ${from} holds ${hre.ethers.formatEther(balance)} ETH, needs ${hre.ethers.formatEther(wei)} ETH plus gas.`);
      }
      await send([], `send ${hre.ethers.formatEther(wei)} ETH to ${to}`, () => signer.sendTransaction({ to, value: wei }));
      out.eth = `${hre.ethers.formatEther(wei)} ETH`;
    }
    return out;
  });
