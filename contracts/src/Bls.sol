// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.30;

/// BLS12-381 (MinPk: keys in G1, signatures in G2) on the EIP-2537
/// precompiles. Points are EIP-2537 uncompressed: every Fp is 64 bytes (16
/// zero bytes, then 48 big-endian); G1 is x ‖ y (128 bytes), G2 is
/// x.c0 ‖ x.c1 ‖ y.c0 ‖ y.c1 (256 bytes).
library Bls {
    /// A precompile call failed or answered the wrong number of bytes: an
    /// invalid point, or too little gas forwarded. Never read as "invalid
    /// signature", so a caller cannot starve a check into passing.
    error PrecompileFailed(uint256 precompile);

    uint256 internal constant G1_ADD = 0x0b;
    uint256 internal constant G1_MSM = 0x0c;
    uint256 internal constant PAIRING = 0x0f;
    uint256 internal constant MAP_FP2_TO_G2 = 0x11;
    uint256 internal constant MODEXP = 0x05;

    uint256 internal constant G1_BYTES = 128;
    uint256 internal constant G2_BYTES = 256;

    /// The field modulus p, split into its high 16 and low 32 bytes.
    uint256 internal constant P_HI = 0x1a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 internal constant P_LO = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;
    /// (p - 1) / 2, the same way: y above it sets the compressed sign flag.
    uint256 internal constant HALF_P_HI = 0xd0088f51cbff34d258dd3db21a5d66b;
    uint256 internal constant HALF_P_LO = 0xb23ba5c279c2895fb39869507b587b120f55ffff58a9ffffdcff7fffffffd555;

    /// The G1 generator negated, for e(pk, H(m)) · e(-g1, sig) == 1.
    bytes internal constant NEG_G1 =
        hex"0000000000000000000000000000000017f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb00000000000000000000000000000000114d1d6855d545a8aa7d76c8cf2e21f267816aef1db507c96655b9d5caac42364e6f38ba0ecb751bad54dcd6b939c2ca";

    function call(uint256 precompile, bytes memory input, uint256 outBytes) internal view returns (bytes memory out) {
        out = new bytes(outBytes);
        bool ok;
        assembly {
            ok := staticcall(gas(), precompile, add(input, 32), mload(input), add(out, 32), outBytes)
            if iszero(eq(returndatasize(), outBytes)) { ok := 0 }
        }
        if (!ok) revert PrecompileFailed(precompile);
    }

    /// a + b in G1. No subgroup check: callers add only keys that were
    /// subgroup-checked when their committee was installed.
    function g1Add(bytes memory a, bytes memory b) internal view returns (bytes memory) {
        return call(G1_ADD, bytes.concat(a, b), G1_BYTES);
    }

    /// Checks every point of `points` (n × 128 bytes) is on the curve and in
    /// the prime-order subgroup: G1MSM refuses any that is not.
    function g1SubgroupCheck(bytes memory points) internal view {
        uint256 n = points.length / G1_BYTES;
        bytes memory input = new bytes(n * (G1_BYTES + 32));
        for (uint256 i = 0; i < n; i++) {
            uint256 from = i * G1_BYTES;
            uint256 to = i * (G1_BYTES + 32);
            for (uint256 w = 0; w < G1_BYTES; w += 32) {
                bytes32 word;
                assembly { word := mload(add(add(points, 32), add(from, w))) }
                assembly { mstore(add(add(input, 32), add(to, w)), word) }
            }
            input[to + G1_BYTES + 31] = 0x01;
        }
        call(G1_MSM, input, G1_BYTES);
    }

    /// RFC 9380 expand_message_xmd with SHA-256, 256 output bytes.
    function expandMessage(bytes memory dst, bytes memory message) internal pure returns (bytes memory uniform) {
        bytes memory dstPrime = bytes.concat(dst, bytes1(uint8(dst.length)));
        bytes32 b0 = sha256(bytes.concat(new bytes(64), message, hex"010000", dstPrime));
        uniform = new bytes(256);
        bytes32 bi = sha256(bytes.concat(b0, hex"01", dstPrime));
        assembly { mstore(add(uniform, 32), bi) }
        for (uint256 i = 2; i <= 8; i++) {
            bi = sha256(bytes.concat(b0 ^ bi, bytes1(uint8(i)), dstPrime));
            assembly { mstore(add(uniform, mul(i, 32)), bi) }
        }
    }

    /// 64 bytes of `uniform` at `offset`, reduced mod p, as a 64-byte Fp.
    function reduce(bytes memory uniform, uint256 offset) internal view returns (bytes memory) {
        bytes32 hi;
        bytes32 lo;
        assembly {
            hi := mload(add(add(uniform, 32), offset))
            lo := mload(add(add(uniform, 64), offset))
        }
        bytes memory input = bytes.concat(
            bytes32(uint256(64)), bytes32(uint256(1)), bytes32(uint256(64)), hi, lo, hex"01",
            bytes32(P_HI), bytes32(P_LO)
        );
        return call(MODEXP, input, 64);
    }

    /// hash_to_curve for G2 (BLS12381G2_XMD:SHA-256_SSWU_RO_) under `dst`:
    /// the map precompile clears the cofactor of each half, and clearing is
    /// linear, so the sum is the RFC's result.
    function hashToG2(bytes memory dst, bytes memory message) internal view returns (bytes memory) {
        bytes memory uniform = expandMessage(dst, message);
        bytes memory q0 = call(MAP_FP2_TO_G2, bytes.concat(reduce(uniform, 0), reduce(uniform, 64)), G2_BYTES);
        bytes memory q1 = call(MAP_FP2_TO_G2, bytes.concat(reduce(uniform, 128), reduce(uniform, 192)), G2_BYTES);
        return call(0x0d, bytes.concat(q0, q1), G2_BYTES);
    }

    /// Whether e(pk, hm) == e(g1, sig). The pairing precompile checks both
    /// G2 points (and pk) are in their subgroups, and fails otherwise.
    function verify(bytes memory pk, bytes memory hm, bytes memory sig) internal view returns (bool) {
        bytes memory out = call(PAIRING, bytes.concat(pk, hm, NEG_G1, sig), 32);
        return uint256(bytes32(out)) == 1;
    }

    /// The 48-byte compressed (ZCash) encoding of an uncompressed G1 point,
    /// as commonware encodes a public key. The point must not be infinity.
    function compressG1(bytes memory point) internal pure returns (bytes memory out) {
        uint256 xHi;
        uint256 xLo;
        uint256 yHi;
        uint256 yLo;
        assembly {
            xHi := mload(add(point, 32))
            xLo := mload(add(point, 64))
            yHi := mload(add(point, 96))
            yLo := mload(add(point, 128))
        }
        bool ySign = yHi > HALF_P_HI || (yHi == HALF_P_HI && yLo > HALF_P_LO);
        uint256 flags = ySign ? 0xa0 : 0x80;
        out = bytes.concat(bytes16(uint128(xHi | (flags << 120))), bytes32(xLo));
    }
}
