import { randomBytes } from "node:crypto";
import { AbiCoder, getAddress, hexlify, keccak256 } from "ethers";

/**
 * A checker's ballot for one health-check round: what it must still know after a restart to
 * reveal what it committed. It is written to durable storage *before* the commit transaction is
 * sent, so a crash at any point between commit and reveal loses nothing.
 */
export interface HealthBallot {
  round: bigint;
  staker: string;
  /** Bit i set = target i of the round judged unhealthy. */
  verdicts: bigint;
  /** 32 random bytes, 0x-hex. */
  salt: string;
  /** HealthCheck.commitmentOf(round, staker, verdicts, salt). */
  commitment: string;
  committed: boolean;
  revealed: boolean;
}

/** The part of the node's store the ballot book needs (NodeStore's key-value settings). */
export interface SettingsStore {
  getSetting(key: string): string | undefined;
  setSetting(key: string, value: string): void;
}

export class BallotError extends Error {
  constructor(
    readonly code: "BALLOT_EXISTS" | "NO_BALLOT" | "CORRUPT_BALLOT",
    message: string,
  ) {
    super(message);
    this.name = "BallotError";
  }
}

/** Off-chain twin of HealthCheck.commitmentOf: keccak256(abi.encode(contract, round, staker, verdicts, salt)). */
export function healthCommitment(contract: string, round: bigint, staker: string, verdicts: bigint, salt: string): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["address", "uint32", "address", "uint256", "bytes32"],
      [contract, round, staker, verdicts, salt],
    ),
  );
}

/** Verdict mask from per-target health (index i = target i of the round). */
export function encodeVerdicts(healthy: readonly boolean[]): bigint {
  return healthy.reduce((mask, ok, i) => (ok ? mask : mask | (1n << BigInt(i))), 0n);
}

interface StoredBallot {
  round: string;
  staker: string;
  verdicts: string;
  salt: string;
  commitment: string;
  committed: boolean;
  revealed: boolean;
}

/** Durable ballots of one node for one HealthCheck contract, kept in the node's settings table. */
export class BallotBook {
  private readonly contract: string;

  constructor(
    private readonly store: SettingsStore,
    contract: string,
  ) {
    this.contract = getAddress(contract);
  }

  private key(round: bigint): string {
    return `health.ballot.${this.contract}.${round}`;
  }

  /** The ballot of `round`, if one was prepared. */
  get(round: bigint): HealthBallot | undefined {
    const raw = this.store.getSetting(this.key(round));
    if (raw === undefined) return undefined;
    try {
      const s = JSON.parse(raw) as StoredBallot;
      return { ...s, round: BigInt(s.round), verdicts: BigInt(s.verdicts) };
    } catch (e) {
      throw new BallotError("CORRUPT_BALLOT", `ballot of round ${round} is unreadable: ${(e as Error).message}`);
    }
  }

  /**
   * Fix and persist the verdicts and a fresh salt for `round`. Refuses to overwrite an existing
   * ballot: after a restart the agent must reuse the stored one, never commit something new.
   */
  prepare(round: bigint, staker: string, verdicts: bigint): HealthBallot {
    if (this.get(round)) throw new BallotError("BALLOT_EXISTS", `a ballot for round ${round} already exists`);
    const salt = hexlify(randomBytes(32));
    const ballot: HealthBallot = {
      round,
      staker: getAddress(staker),
      verdicts,
      salt,
      commitment: healthCommitment(this.contract, round, staker, verdicts, salt),
      committed: false,
      revealed: false,
    };
    this.save(ballot);
    return ballot;
  }

  markCommitted(round: bigint): HealthBallot {
    return this.update(round, { committed: true });
  }

  markRevealed(round: bigint): HealthBallot {
    return this.update(round, { revealed: true });
  }

  private update(round: bigint, change: Partial<Pick<HealthBallot, "committed" | "revealed">>): HealthBallot {
    const ballot = this.get(round);
    if (!ballot) throw new BallotError("NO_BALLOT", `no ballot for round ${round}`);
    const next = { ...ballot, ...change };
    this.save(next);
    return next;
  }

  private save(b: HealthBallot): void {
    const stored: StoredBallot = { ...b, round: b.round.toString(), verdicts: b.verdicts.toString() };
    this.store.setSetting(this.key(b.round), JSON.stringify(stored));
  }
}
