// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.30;

import {LakhLightClient} from "./LakhLightClient.sol";

interface IERC20Minimal {
    function balanceOf(address owner) external view returns (uint256);
}

/// Escrows ether and allowlisted ERC-20 tokens deposited for lakh, and pays
/// withdrawals proven against the withdrawal root of a header the light
/// client stored, once that header has been posted for `challengeSeconds`.
/// Fraud evidence freezes withdrawals for good (see docs/BRIDGE.md).
contract LakhBridge {
    /// The fields of a withdrawal leaf, as `lakh_types::modules::bridge::WithdrawalLeaf`.
    struct Withdrawal {
        uint64 lakhChainId;
        uint64 l1ChainId;
        address bridge;
        uint64 index;
        bytes32 lakhSender;
        address l1Recipient;
        address token;
        uint256 amount;
    }

    struct DepositRecord {
        address sender;
        address token;
        uint128 amount;
        uint64 depositedAt;
        bool reclaimed;
    }

    error Frozen();
    error Paused();
    error NotGuardian();
    error TokenNotAllowed(address token);
    error ZeroAmount();
    error AmountTooLarge();
    error EtherWithToken();
    error TransferFailed();
    error HeaderNotPosted(bytes32 digest);
    error ChallengeWindowOpen(uint256 readyAt);
    error WrongLakhChain(uint64 chainId);
    error WrongL1Chain(uint64 chainId);
    error WrongBridge(address bridge);
    error IndexNotCovered(uint64 index, uint64 withdrawalCount);
    error AlreadyWithdrawn(uint64 index);
    error BadProof();
    error NoFraud();
    error UnknownDeposit(uint64 count);
    error NotDepositor();
    error AlreadyReclaimed(uint64 count);
    error ReclaimTooEarly(uint256 readyAt);
    error DepositCovered(uint64 count);
    error Reentered();

    event Deposited(
        uint64 indexed count, address indexed token, address indexed sender, bytes32 recipient, uint256 amount, bytes32 hash
    );
    event Withdrawn(uint64 indexed index, address indexed token, address indexed recipient, uint256 amount);
    event FrozenBy(string reason);
    event Reclaimed(uint64 indexed count, address indexed sender, uint256 amount);
    event PausedSet(bool paused);
    event TokenAllowed(address indexed token, bool allowed);

    uint256 public constant TREE_DEPTH = 32;
    address public constant ETHER = address(0);

    LakhLightClient public immutable lightClient;
    uint64 public immutable lakhChainId;
    uint64 public immutable challengeSeconds;
    uint64 public immutable reclaimSeconds;
    address public guardian;

    bool public paused;
    bool internal fraudProven;
    mapping(address => bool) public allowedToken;

    uint64 public depositCount;
    bytes32 public depositHash;
    mapping(uint64 => bytes32) public depositHashAt;
    mapping(uint64 => DepositRecord) public deposits;
    /// Lowest reclaimed deposit count; no header may ever cover it.
    uint64 public firstReclaimed = type(uint64).max;
    mapping(uint256 => uint256) internal spentWords;
    /// Set while a token is called: a token re-entering `deposit` would
    /// otherwise be counted inside the outer deposit's balance delta too.
    bool transient entered;

    constructor(LakhLightClient lightClient_, uint64 challengeSeconds_, uint64 reclaimSeconds_, address guardian_) {
        lightClient = lightClient_;
        lakhChainId = lightClient_.chainId();
        challengeSeconds = challengeSeconds_;
        reclaimSeconds = reclaimSeconds_;
        guardian = guardian_;
    }

    modifier onlyGuardian() {
        if (msg.sender != guardian) revert NotGuardian();
        _;
    }

    modifier nonReentrant() {
        if (entered) revert Reentered();
        entered = true;
        _;
        entered = false;
    }

    modifier live() {
        if (frozen()) revert Frozen();
        if (paused) revert Paused();
        _;
    }

    /// Whether fraud was proven: here, or by two certified headers at one
    /// height in the light client.
    function frozen() public view returns (bool) {
        return fraudProven || lightClient.equivocated();
    }

    function setPaused(bool paused_) external onlyGuardian {
        paused = paused_;
        emit PausedSet(paused_);
    }

    function setTokenAllowed(address token, bool allowed) external onlyGuardian {
        allowedToken[token] = allowed;
        emit TokenAllowed(token, allowed);
    }

    function depositEth(bytes32 lakhRecipient) external payable live returns (uint64) {
        if (msg.value == 0) revert ZeroAmount();
        return _record(ETHER, lakhRecipient, msg.value);
    }

    /// Escrows `amount` of `token`; credits what actually arrived, so a
    /// fee-on-transfer token is credited net of its fee.
    function deposit(address token, uint256 amount, bytes32 lakhRecipient)
        external
        payable
        live
        nonReentrant
        returns (uint64)
    {
        if (msg.value != 0) revert EtherWithToken();
        if (!allowedToken[token]) revert TokenNotAllowed(token);
        uint256 before = IERC20Minimal(token).balanceOf(address(this));
        _call(token, abi.encodeWithSelector(0x23b872dd, msg.sender, address(this), amount));
        uint256 received = IERC20Minimal(token).balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
        return _record(token, lakhRecipient, received);
    }

    function _record(address token, bytes32 recipient, uint256 amount) internal returns (uint64 count) {
        if (amount > type(uint128).max) revert AmountTooLarge();
        count = depositCount + 1;
        depositCount = count;
        bytes32 hash = keccak256(abi.encode(depositHash, count, token, msg.sender, recipient, amount));
        depositHash = hash;
        depositHashAt[count] = hash;
        deposits[count] = DepositRecord({
            sender: msg.sender,
            token: token,
            amount: uint128(amount),
            depositedAt: uint64(block.timestamp),
            reclaimed: false
        });
        emit Deposited(count, token, msg.sender, recipient, amount, hash);
    }

    function spent(uint64 index) public view returns (bool) {
        return (spentWords[index >> 8] >> (index & 0xff)) & 1 == 1;
    }

    /// Pays a withdrawal the posted header `headerDigest` commits to.
    function finalizeWithdrawal(Withdrawal calldata w, bytes32[TREE_DEPTH] calldata siblings, bytes32 headerDigest)
        external
        live
        nonReentrant
    {
        LakhLightClient.Header memory h = lightClient.header(headerDigest);
        if (h.postedAt == 0) revert HeaderNotPosted(headerDigest);
        uint256 readyAt = uint256(h.postedAt) + challengeSeconds;
        if (block.timestamp < readyAt) revert ChallengeWindowOpen(readyAt);
        if (w.lakhChainId != lakhChainId) revert WrongLakhChain(w.lakhChainId);
        if (w.l1ChainId != block.chainid) revert WrongL1Chain(w.l1ChainId);
        if (w.bridge != address(this)) revert WrongBridge(w.bridge);
        if (w.index >= h.withdrawalCount) revert IndexNotCovered(w.index, h.withdrawalCount);
        if (spent(w.index)) revert AlreadyWithdrawn(w.index);
        if (rootOf(leafHash(w), w.index, siblings) != h.withdrawalRoot) revert BadProof();

        spentWords[w.index >> 8] |= 1 << (w.index & 0xff);
        _pay(w.token, w.l1Recipient, w.amount);
        emit Withdrawn(w.index, w.token, w.l1Recipient, w.amount);
    }

    function leafHash(Withdrawal calldata w) public pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                hex"00",
                abi.encode(w.lakhChainId, w.l1ChainId, w.bridge, w.index, w.lakhSender, w.l1Recipient, w.token, w.amount)
            )
        );
    }

    /// The root over `leaf` at `index` given its siblings from the leaf up;
    /// nodes are keccak(0x01 ‖ left ‖ right), leaves keccak(0x00 ‖ ...).
    function rootOf(bytes32 leaf, uint64 index, bytes32[TREE_DEPTH] calldata siblings) public pure returns (bytes32 node) {
        node = leaf;
        for (uint256 height = 0; height < TREE_DEPTH; height++) {
            node = (index >> height) & 1 == 0
                ? keccak256(abi.encodePacked(hex"01", node, siblings[height]))
                : keccak256(abi.encodePacked(hex"01", siblings[height], node));
        }
    }

    /// Freezes if the posted header `digest` claims deposits L1 never
    /// received, a deposit hash that differs from L1's own at its count, or
    /// covers a deposit its depositor already reclaimed.
    function reportDepositMismatch(bytes32 digest) external {
        LakhLightClient.Header memory h = lightClient.header(digest);
        if (h.postedAt == 0) revert HeaderNotPosted(digest);
        if (h.depositCount > depositCount) return _freeze("header applies deposits L1 never received");
        if (h.depositHash != depositHashAt[h.depositCount]) return _freeze("header deposit hash differs from L1's");
        if (h.depositCount >= firstReclaimed) return _freeze("header applies a reclaimed deposit");
        revert NoFraud();
    }

    /// Freezes if two posted headers hold different values at the same slot
    /// `index` of the append-only withdrawal tree, below both their counts.
    /// Each value is proven by its own path; the slot's value is whatever
    /// the 32-level path reaches, so differing values are a real conflict.
    function reportWithdrawalConflict(
        bytes32 digestA,
        bytes32 digestB,
        uint64 index,
        bytes32 valueA,
        bytes32[TREE_DEPTH] calldata siblingsA,
        bytes32 valueB,
        bytes32[TREE_DEPTH] calldata siblingsB
    ) external {
        LakhLightClient.Header memory a = lightClient.header(digestA);
        LakhLightClient.Header memory b = lightClient.header(digestB);
        if (a.postedAt == 0) revert HeaderNotPosted(digestA);
        if (b.postedAt == 0) revert HeaderNotPosted(digestB);
        if (index >= a.withdrawalCount || index >= b.withdrawalCount) revert NoFraud();
        if (valueA == valueB) revert NoFraud();
        if (rootOf(valueA, index, siblingsA) != a.withdrawalRoot) revert BadProof();
        if (rootOf(valueB, index, siblingsB) != b.withdrawalRoot) revert BadProof();
        _freeze("two headers disagree on a withdrawal leaf");
    }

    /// Gives a deposit back to its depositor when no posted header applied
    /// it within `reclaimSeconds`. A reclaimed deposit is never mintable:
    /// a header that later covers it is fraud (`reportDepositMismatch`).
    function reclaim(uint64 count) external nonReentrant {
        DepositRecord storage d = deposits[count];
        if (d.sender == address(0)) revert UnknownDeposit(count);
        if (d.sender != msg.sender) revert NotDepositor();
        if (d.reclaimed) revert AlreadyReclaimed(count);
        uint256 readyAt = uint256(d.depositedAt) + reclaimSeconds;
        if (block.timestamp < readyAt) revert ReclaimTooEarly(readyAt);
        if (count <= lightClient.maxDepositCount()) revert DepositCovered(count);
        d.reclaimed = true;
        if (count < firstReclaimed) firstReclaimed = count;
        _pay(d.token, d.sender, d.amount);
        emit Reclaimed(count, d.sender, d.amount);
    }

    function _freeze(string memory reason) internal {
        fraudProven = true;
        emit FrozenBy(reason);
    }

    function _pay(address token, address to, uint256 amount) internal {
        if (token == ETHER) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert TransferFailed();
        } else {
            _call(token, abi.encodeWithSelector(0xa9059cbb, to, amount));
        }
    }

    /// Calls a token, accepting no return data or a true boolean.
    function _call(address token, bytes memory data) internal {
        if (token.code.length == 0) revert TransferFailed();
        (bool ok, bytes memory ret) = token.call(data);
        if (!ok || (ret.length != 0 && (ret.length != 32 || abi.decode(ret, (uint256)) != 1))) {
            revert TransferFailed();
        }
    }
}
