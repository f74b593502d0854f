// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title NKMS token
/// @notice ERC-20 with 18 decimals and EIP-2612 `permit`. `initialSupply` goes to the deployer;
/// the rest of `cap` is the mining reserve, which only the minter (the staking escrow) can
/// issue. The escrow issues it on a geometrically decaying schedule (see StakingEscrow), so
/// inflation tends to zero and `totalSupply() <= cap` always holds; `mint` also enforces it.
/// @dev The escrow's constructor needs this token's address, so the minter cannot be set in
/// this constructor: the deployer sets it exactly once with `setMinter` (the deployment module
/// does it right after deploying the escrow). Before that nobody can mint.
contract NKMSToken is ERC20, ERC20Permit {
    /// @notice Hard upper bound of the total supply (initial supply plus the mining reserve).
    uint256 public immutable cap;
    /// @notice The only address allowed to mint and burn (the staking escrow); zero until set.
    address public minter;

    address private immutable _deployer;

    /// @notice `minter` was set (once, forever).
    event MinterSet(address indexed minter);

    error InvalidSupply(uint256 initialSupply, uint256 cap);
    error MinterAlreadySet(address minter);
    error NotDeployer(address caller);
    error NotMinter(address caller);
    error ZeroMinter();
    error CapExceeded(uint256 supplyAfter, uint256 cap);

    /// @param initialSupply Tokens minted to the deployer now.
    /// @param cap_ Maximum supply; at most 2^96-1 so every amount fits the escrow's packed slots.
    constructor(uint256 initialSupply, uint256 cap_) ERC20("NKMS", "NKMS") ERC20Permit("NKMS") {
        if (cap_ == 0 || cap_ > type(uint96).max || initialSupply > cap_) {
            revert InvalidSupply(initialSupply, cap_);
        }
        cap = cap_;
        _deployer = msg.sender;
        _mint(msg.sender, initialSupply);
    }

    /// @notice Set the minter (the staking escrow). Deployer only, exactly once.
    function setMinter(address minter_) external {
        if (msg.sender != _deployer) revert NotDeployer(msg.sender);
        if (minter != address(0)) revert MinterAlreadySet(minter);
        if (minter_ == address(0)) revert ZeroMinter();
        minter = minter_;
        emit MinterSet(minter_);
    }

    /// @notice Issue `amount` new tokens from the reserve to `to`. Minter only; never beyond `cap`.
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        uint256 supplyAfter = totalSupply() + amount;
        if (supplyAfter > cap) revert CapExceeded(supplyAfter, cap);
        _mint(to, amount);
    }

    /// @notice Burn `amount` of the minter's own tokens, returning them to the unissued reserve
    /// (slashed stake, forfeited rewards). Minter only, so holders cannot shrink the supply
    /// behind the escrow's reserve accounting.
    function burn(uint256 amount) external {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        _burn(msg.sender, amount);
    }
}
