/** One area's contribution to the gas snapshot: operation key → gas used by its transaction. */
export type GasMeasurements = Record<string, bigint>;

/** NuCypher's figure for an operation, where one exists (as gathered in the team reference notes on NuCypher contracts and gas). */
export interface GasAnchor {
  anchor: number;
  goal: number;
}

export interface GasScenario {
  name: string;
  anchors: Record<string, GasAnchor>;
  measure(): Promise<GasMeasurements>;
}
