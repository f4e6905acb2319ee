// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.30;

import {Bls} from "./Bls.sol";

/// Follows lakh's committees from the genesis and stores every header a
/// quorum of its epoch's committee finalized, as lakh's Rust light client
/// (`lakh_consensus::light`) accepts them.
///
/// A header is given as its `core` (the codec encoding of every field from
/// `context` through `next_committee`), the root of what it carries
/// (finalizations, evidence, deposits) and its transaction root; the block
/// digest is sha256(core ‖ carriedRoot ‖ txRoot), the payload commonware's
/// Finalize vote signs.
contract LakhLightClient {
    struct Header {
        uint64 height;
        uint64 epoch;
        uint64 withdrawalCount;
        uint64 depositCount;
        uint64 postedAt;
        bytes32 withdrawalRoot;
        bytes32 depositHash;
    }

    /// What `core` says, with the byte ranges the Finalize message reuses.
    struct Parsed {
        uint64 epoch;
        uint64 height;
        uint256 roundEnd;
        uint256 parentViewStart;
        uint256 parentViewEnd;
        uint64 bridgeChainId;
        bytes32 withdrawalRoot;
        uint64 withdrawalCount;
        uint64 depositCount;
        bytes32 depositHash;
        bool hasNextCommittee;
        uint64 nextEpoch;
        uint256[] nextKeyOffsets;
    }

    error Truncated();
    error TrailingBytes();
    error NonCanonicalVarint();
    error InvalidBool();
    error InvalidIpVersion();
    error EmptyOpsRange();
    error LocationTooLarge();
    error CommitteeTooLarge();
    error EmptyCommittee();
    error IdentitiesNotAscending();
    error DuplicateKey();
    error BadKeyEncoding();
    error KeyMismatch(uint256 member);
    error InvalidProofOfPossession(uint256 member);
    error UnknownEpoch(uint64 epoch);
    error CommitteeMismatch();
    error WrongChain(uint64 chainId);
    error WrongEpochForHeight(uint64 epoch, uint64 height);
    error BadBitmapLength();
    error BitmapTrailingBits();
    error BelowQuorum(uint256 signers, uint256 quorum);
    error BadSignature();
    error AlreadyPosted(bytes32 digest);
    error NotEpochEnd(uint64 height);
    error SkippedEpoch(uint64 elected, uint64 expected);
    error UnexpectedKeys();

    event CommitteeInstalled(uint64 indexed epoch, bytes32 keysHash, uint256 members);
    event HeaderPosted(bytes32 indexed digest, uint64 indexed height, uint64 epoch);
    event Equivocation(uint64 indexed height, bytes32 first, bytes32 second);

    /// Most members a committee has (lakh's MAX_COMMITTEE_SIZE).
    uint256 public constant MAX_COMMITTEE = 100;
    /// commonware's MMR location bound (2^62 leaves).
    uint64 internal constant MAX_LOCATION = 2 ** 62;

    /// varint(len) ‖ "lakh/consensus/v1_FINALIZE": union_unique's prefix.
    bytes internal constant FINALIZE_PREFIX = "\x1alakh/consensus/v1_FINALIZE";
    /// varint(len) ‖ "lakh/consensus-pop/v1/"; the identity follows.
    bytes internal constant POP_PREFIX = "\x36lakh/consensus-pop/v1/";
    bytes internal constant SIG_DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
    bytes internal constant POP_DST = "BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

    uint64 public immutable chainId;
    uint64 public immutable epochBlocks;

    mapping(uint64 => bytes32) public committeeKeysHash;
    mapping(uint64 => uint256) public committeeSize;
    uint64 public latestEpoch;

    mapping(bytes32 => Header) internal headers;
    mapping(uint64 => bytes32) public digestAtHeight;
    /// Set for good once two certified headers share a height.
    bool public equivocated;
    /// The highest deposit count any posted header applied.
    uint64 public maxDepositCount;

    /// `identities` ascending (lakh's committee order, which is the signer
    /// bitmap's order), `keys` their uncompressed G1 keys (n × 128 bytes),
    /// `pops` their proofs of possession (n × 256 bytes, uncompressed G2).
    constructor(
        uint64 chainId_,
        uint64 epochBlocks_,
        uint64 epoch,
        bytes32[] memory identities,
        bytes memory keys,
        bytes memory pops
    ) {
        chainId = chainId_;
        epochBlocks = epochBlocks_;
        uint256 n = identities.length;
        if (n == 0) revert EmptyCommittee();
        if (n > MAX_COMMITTEE) revert CommitteeTooLarge();
        if (keys.length != n * Bls.G1_BYTES || pops.length != n * Bls.G2_BYTES) revert BadKeyEncoding();
        bytes32[] memory keyHashes = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) {
            if (i > 0 && identities[i] <= identities[i - 1]) revert IdentitiesNotAscending();
            bytes memory key = _slice(keys, i * Bls.G1_BYTES, Bls.G1_BYTES);
            bytes memory compressed = Bls.compressG1(key);
            keyHashes[i] = keccak256(compressed);
            bytes memory message = bytes.concat(POP_PREFIX, identities[i], compressed);
            bytes memory pop = _slice(pops, i * Bls.G2_BYTES, Bls.G2_BYTES);
            if (!Bls.verify(key, Bls.hashToG2(POP_DST, message), pop)) revert InvalidProofOfPossession(i);
        }
        _requireDistinct(keyHashes);
        Bls.g1SubgroupCheck(keys);
        _install(epoch, keys, n);
    }

    function header(bytes32 digest) external view returns (Header memory) {
        return headers[digest];
    }

    /// Verifies a finalized header and stores it. `keys` are the committee
    /// of the header's epoch (n × 128 bytes, committee order); `signers` is
    /// a bitmap of ceil(n / 8) bytes, member i at bit (i % 8) of byte i / 8;
    /// `signature` the aggregate (uncompressed G2). A header that elects
    /// the next epoch's committee comes with that committee's keys
    /// uncompressed in `nextKeys` (empty otherwise).
    function submit(
        bytes calldata core,
        bytes32 carriedRoot,
        bytes32 txRoot,
        bytes calldata signers,
        bytes calldata signature,
        bytes calldata keys,
        bytes calldata nextKeys
    ) external returns (bytes32 digest) {
        Parsed memory p = parse(core);
        if (p.bridgeChainId != chainId) revert WrongChain(p.bridgeChainId);
        uint256 n = committeeSize[p.epoch];
        if (n == 0) revert UnknownEpoch(p.epoch);
        if (keccak256(keys) != committeeKeysHash[p.epoch]) revert CommitteeMismatch();
        if (p.height / epochBlocks != p.epoch) revert WrongEpochForHeight(p.epoch, p.height);

        digest = sha256(bytes.concat(core, carriedRoot, txRoot));
        if (headers[digest].postedAt != 0) revert AlreadyPosted(digest);
        bytes memory message = bytes.concat(
            FINALIZE_PREFIX, core[0:p.roundEnd], core[p.parentViewStart:p.parentViewEnd], digest
        );
        _verifyQuorum(keys, n, signers, message, signature);

        if (p.hasNextCommittee) {
            if ((p.height + 1) % epochBlocks != 0) revert NotEpochEnd(p.height);
            if (p.nextEpoch != p.epoch + 1) revert SkippedEpoch(p.nextEpoch, p.epoch + 1);
            if (committeeSize[p.nextEpoch] == 0) _installElected(core, p, nextKeys);
        } else if (nextKeys.length != 0) {
            revert UnexpectedKeys();
        }

        headers[digest] = Header({
            height: p.height,
            epoch: p.epoch,
            withdrawalCount: p.withdrawalCount,
            depositCount: p.depositCount,
            postedAt: uint64(block.timestamp),
            withdrawalRoot: p.withdrawalRoot,
            depositHash: p.depositHash
        });
        bytes32 first = digestAtHeight[p.height];
        if (first == bytes32(0)) {
            digestAtHeight[p.height] = digest;
        } else {
            equivocated = true;
            emit Equivocation(p.height, first, digest);
        }
        if (p.depositCount > maxDepositCount) maxDepositCount = p.depositCount;
        emit HeaderPosted(digest, p.height, p.epoch);
    }

    function _verifyQuorum(
        bytes calldata keys,
        uint256 n,
        bytes calldata signers,
        bytes memory message,
        bytes calldata signature
    ) internal view {
        if (signers.length != (n + 7) / 8) revert BadBitmapLength();
        if (n % 8 != 0 && uint8(signers[signers.length - 1]) >> (n % 8) != 0) revert BitmapTrailingBits();
        bytes memory aggregate;
        uint256 count;
        for (uint256 i = 0; i < n; i++) {
            if ((uint8(signers[i / 8]) >> (i % 8)) & 1 == 0) continue;
            bytes memory key = keys[i * Bls.G1_BYTES:(i + 1) * Bls.G1_BYTES];
            aggregate = count == 0 ? key : Bls.g1Add(aggregate, key);
            count++;
        }
        // commonware's N3f1 quorum: n - floor((n - 1) / 3).
        uint256 quorum = n - (n - 1) / 3;
        if (count < quorum) revert BelowQuorum(count, quorum);
        if (signature.length != Bls.G2_BYTES) revert BadKeyEncoding();
        if (!Bls.verify(aggregate, Bls.hashToG2(SIG_DST, message), signature)) revert BadSignature();
    }

    /// Installs the committee a certified epoch-end header elects. Its keys
    /// come uncompressed and must compress to the header's bytes. No proof
    /// of possession is checked here: lakh checks one when a key registers,
    /// and a quorum that would certify a committee with a rogue key could as
    /// well certify any header, so an L1 check would add no safety.
    function _installElected(bytes calldata core, Parsed memory p, bytes calldata nextKeys) internal {
        uint256 n = p.nextKeyOffsets.length;
        if (nextKeys.length != n * Bls.G1_BYTES) revert BadKeyEncoding();
        bytes32[] memory keyHashes = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) {
            bytes memory compressed = Bls.compressG1(nextKeys[i * Bls.G1_BYTES:(i + 1) * Bls.G1_BYTES]);
            uint256 at = p.nextKeyOffsets[i];
            if (keccak256(compressed) != keccak256(core[at:at + 48])) revert KeyMismatch(i);
            keyHashes[i] = keccak256(compressed);
        }
        _requireDistinct(keyHashes);
        Bls.g1SubgroupCheck(nextKeys);
        _install(p.nextEpoch, nextKeys, n);
    }

    function _install(uint64 epoch, bytes memory keys, uint256 n) internal {
        committeeKeysHash[epoch] = keccak256(keys);
        committeeSize[epoch] = n;
        if (epoch > latestEpoch) latestEpoch = epoch;
        emit CommitteeInstalled(epoch, keccak256(keys), n);
    }

    function _requireDistinct(bytes32[] memory hashes) internal pure {
        for (uint256 i = 0; i < hashes.length; i++) {
            for (uint256 j = i + 1; j < hashes.length; j++) {
                if (hashes[i] == hashes[j]) revert DuplicateKey();
            }
        }
    }

    function _slice(bytes memory data, uint256 start, uint256 len) internal pure returns (bytes memory out) {
        out = new bytes(len);
        for (uint256 w = 0; w < len; w += 32) {
            bytes32 word;
            assembly { word := mload(add(add(data, 32), add(start, w))) }
            assembly { mstore(add(add(out, 32), w), word) }
        }
    }

    /// Parses `core` completely, with commonware's codec rules: canonical
    /// varints, booleans 0 or 1, no truncation, no trailing bytes.
    function parse(bytes calldata core) public pure returns (Parsed memory p) {
        uint256 at;
        (p.epoch, at) = _varint(core, 0);
        (, at) = _varint(core, at); // view
        p.roundEnd = at;
        at = _skip(core, at, 32); // leader
        p.parentViewStart = at;
        (, at) = _varint(core, at); // parent view
        p.parentViewEnd = at;
        at = _skip(core, at, 32 + 32); // parent payload, parent digest
        (p.height, at) = _varint(core, at);
        // timestamp_ms, base_fee, used_units, first_tx_seq, state_root, ops_root
        at = _skip(core, at, 8 + 16 + 8 + 8 + 32 + 32);
        uint64 opsStart;
        uint64 opsEnd;
        (opsStart, at) = _varint(core, at);
        (opsEnd, at) = _varint(core, at);
        if (opsStart > MAX_LOCATION || opsEnd > MAX_LOCATION) revert LocationTooLarge();
        if (opsStart >= opsEnd) revert EmptyOpsRange();
        _skip(core, at, 88);
        p.bridgeChainId = uint64(bytes8(core[at:at + 8]));
        p.withdrawalRoot = bytes32(core[at + 8:at + 40]);
        p.withdrawalCount = uint64(bytes8(core[at + 40:at + 48]));
        p.depositCount = uint64(bytes8(core[at + 48:at + 56]));
        p.depositHash = bytes32(core[at + 56:at + 88]);
        at += 88;
        _skip(core, at, 1);
        uint8 tag = uint8(core[at]);
        at += 1;
        if (tag > 1) revert InvalidBool();
        if (tag == 1) at = _parseCommittee(core, at, p);
        if (at != core.length) revert TrailingBytes();
    }

    function _parseCommittee(bytes calldata core, uint256 at, Parsed memory p) internal pure returns (uint256) {
        p.hasNextCommittee = true;
        _skip(core, at, 8);
        p.nextEpoch = uint64(bytes8(core[at:at + 8]));
        at += 8;
        uint64 n;
        (n, at) = _varint(core, at);
        if (n > MAX_COMMITTEE) revert CommitteeTooLarge();
        if (n == 0) revert EmptyCommittee();
        p.nextKeyOffsets = new uint256[](n);
        bytes32 previous;
        for (uint256 i = 0; i < n; i++) {
            _skip(core, at, 32 + 48 + 1);
            bytes32 identity = bytes32(core[at:at + 32]);
            // Committee::new sorts by identity; the bitmap follows that order.
            if (i > 0 && identity <= previous) revert IdentitiesNotAscending();
            previous = identity;
            p.nextKeyOffsets[i] = at + 32;
            uint8 flags = uint8(core[at + 32]) & 0xe0;
            if (flags != 0x80 && flags != 0xa0) revert BadKeyEncoding();
            at += 32 + 48;
            uint8 version = uint8(core[at]);
            at += 1;
            if (version == 4) at = _skip(core, at, 4 + 2);
            else if (version == 6) at = _skip(core, at, 16 + 2);
            else revert InvalidIpVersion();
        }
        return at;
    }

    function _skip(bytes calldata core, uint256 at, uint256 len) internal pure returns (uint256) {
        if (at + len > core.length) revert Truncated();
        return at + len;
    }

    /// A u64 varint as commonware's codec reads it: 7 bits a byte, least
    /// significant first; no zero byte after the first, nothing past 64 bits.
    function _varint(bytes calldata core, uint256 at) internal pure returns (uint64 value, uint256 next) {
        for (uint256 i = 0; i < 10; i++) {
            if (at + i >= core.length) revert Truncated();
            uint8 b = uint8(core[at + i]);
            if (i > 0 && b == 0) revert NonCanonicalVarint();
            if (i == 9 && b > 1) revert NonCanonicalVarint();
            value |= uint64(uint256(b & 0x7f) << (7 * i));
            if (b & 0x80 == 0) return (value, at + i + 1);
        }
        revert NonCanonicalVarint();
    }
}
