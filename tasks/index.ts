// Operator-facing Hardhat tasks; each area registers its own file here.
import "./staking";
import "./policy";
import "./health";
import "./adjudicator";
import "./funds";
