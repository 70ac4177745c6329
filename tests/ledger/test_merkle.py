"""RFC 6962 / RFC 9162 Merkle tree: published vectors and every proof up to 64 leaves."""

import hashlib

import pytest

from faceaudit.ledger import merkle
from faceaudit.ledger.tree import StoredTree

# Test vectors of the reference implementation (transparency-dev/merkle, proof/verify_test.go,
# originally Google's certificate-transparency): leaf inputs, the root of every prefix, and
# known inclusion and consistency proofs.
LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
          "606162636465666768696a6b6c6d6e6f"]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf number, 1-based as in the reference; tree size; audit path)
INCLUSION = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")

VECTOR_LEAVES = [merkle.leaf_hash(bytes.fromhex(x)) for x in LEAVES]


@pytest.fixture(scope="module")
def vector_tree(tmp_path_factory):
    tree = StoredTree(tmp_path_factory.mktemp("vectors") / "tree")
    tree.append(VECTOR_LEAVES)
    return tree


def _hex(path):
    return [h.hex() for h in path]


def test_empty_tree_root_is_the_hash_of_nothing():
    assert merkle.EMPTY_ROOT.hex() == EMPTY_ROOT
    assert merkle.root_from_leaves([]).hex() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_published_vectors(vector_tree, size):
    assert merkle.root_from_leaves(VECTOR_LEAVES[:size]).hex() == ROOTS[size - 1]
    assert vector_tree.root(size).hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_published_vectors(vector_tree, leaf, size, path):
    assert _hex(vector_tree.inclusion(leaf - 1, size)) == path
    root = bytes.fromhex(ROOTS[size - 1])
    proof = [bytes.fromhex(h) for h in path]
    assert merkle.verify_inclusion(leaf - 1, size, VECTOR_LEAVES[leaf - 1], proof, root)
    # the reference's corruptions must all fail
    leaf_hash = VECTOR_LEAVES[leaf - 1]
    bad = [
        (leaf - 2, size, leaf_hash, proof, root), (leaf, size, leaf_hash, proof, root),
        ((leaf - 1) ^ 2, size, leaf_hash, proof, root),
        (leaf - 1, size * 2, leaf_hash, proof, root), (leaf - 1, size // 2, leaf_hash, proof, root),
        (leaf - 1, size, b"WrongLeaf", proof, root),
        (leaf - 1, size, leaf_hash, proof, bytes.fromhex(EMPTY_ROOT)),
        (leaf - 1, size, leaf_hash, proof, SOME_HASH),
        (leaf - 1, size, leaf_hash, [*proof, b""], root),
        (leaf - 1, size, leaf_hash, [*proof, root], root),
        (leaf - 1, size, leaf_hash, [b"", *proof], root),
        (leaf - 1, size, leaf_hash, [root, *proof], root),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        bad.append((leaf - 1, size, leaf_hash, flipped, root))
    if proof:
        bad.append((leaf - 1, size, leaf_hash, proof[:-1], root))
    if len(proof) > 1:
        bad.append((leaf - 1, size, leaf_hash, [proof[0], SOME_HASH, *proof[1:]], root))
    for case in bad:
        if case[0] < 0:
            continue
        assert not merkle.verify_inclusion(*case), case[:2]


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_published_vectors(vector_tree, first, second, path):
    assert _hex(vector_tree.consistency(first, second)) == path
    r1, r2 = bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[second - 1])
    proof = [bytes.fromhex(h) for h in path]
    assert merkle.verify_consistency(first, second, r1, r2, proof)
    if not proof:
        return
    bad = [
        (first - 1, second, r1, r2, proof), (first + 1, second, r1, r2, proof),
        (first ^ 2, second, r1, r2, proof), (first, second * 2, r1, r2, proof),
        (first, second // 2, r1, r2, proof), (first, second, b"WrongRoot", r2, proof),
        (first, second, r1, b"WrongRoot", proof), (first, second, r2, r1, proof),
        (first, second, r1, r2, []), (first, second, r1, r2, [*proof, b""]),
        (first, second, r1, r2, [*proof, r1]), (first, second, r1, r2, [*proof, r2]),
        (first, second, r1, r2, [b"", *proof]), (first, second, r1, r2, [r1, *proof]),
        (first, second, r1, r2, [r2, *proof]), (first, second, r1, r2, [proof[0], *proof]),
        (first, second, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        bad.append((first, second, r1, r2, flipped))
    for case in bad:
        assert not merkle.verify_consistency(*case), case[:2]


def test_degenerate_consistency_cases():
    some, other = b"don't care 1", b"don't care 2"
    assert not merkle.verify_consistency(1, 1, some, other, [])
    assert merkle.verify_consistency(1, 1, other, other, [])
    assert not merkle.verify_consistency(2, 1, some, other, [])
    assert not merkle.verify_consistency(1, 2, some, other, [])
    empty = bytes.fromhex(EMPTY_ROOT)
    assert not merkle.verify_consistency(1, 1, empty, empty, [empty])


def _leaves(n):
    return [merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


@pytest.fixture(scope="module")
def tree64(tmp_path_factory):
    tree = StoredTree(tmp_path_factory.mktemp("t64") / "tree")
    leaves = _leaves(64)
    for leaf in leaves:  # one append at a time, as the ledger does
        tree.append([leaf])
    return tree, leaves


def test_stored_tree_matches_the_in_memory_tree_at_every_size(tree64):
    tree, leaves = tree64
    for n in range(1, 65):
        assert tree.root(n) == merkle.root_from_leaves(leaves[:n])


def test_every_inclusion_proof_up_to_64_leaves_verifies(tree64):
    tree, leaves = tree64
    for n in range(1, 65):
        root = tree.root(n)
        for m in range(n):
            path = tree.inclusion(m, n)
            assert len(path) <= (n - 1).bit_length()
            assert merkle.verify_inclusion(m, n, leaves[m], path, root)
            if path:
                assert not merkle.verify_inclusion(m, n, leaves[m], path[:-1], root)
            other = leaves[(m + 1) % n]
            if n > 1:
                assert not merkle.verify_inclusion(m, n, other, path, root)


def test_every_consistency_proof_up_to_64_leaves_verifies(tree64):
    tree, leaves = tree64
    forged = list(leaves)
    forged[0] = merkle.leaf_hash(b"rewritten")
    for n in range(1, 65):
        root_n = tree.root(n)
        for m in range(1, n + 1):
            path = tree.consistency(m, n)
            root_m = tree.root(m)
            assert merkle.verify_consistency(m, n, root_m, root_n, path), (m, n)
            # a rewritten first event can never be proved consistent
            assert not merkle.verify_consistency(
                m, n, merkle.root_from_leaves(forged[:m]), root_n, path), (m, n)


def test_tree_repairs_an_interrupted_append(tmp_path):
    tree = StoredTree(tmp_path / "tree")
    leaves = _leaves(13)
    tree.append(leaves[:12])
    with open(tree.level_path(0), "ab") as fh:  # a torn leaf write
        fh.write(b"\x01" * 7)
    tree.level_path(2).unlink()  # and a lost parent level
    assert tree.append(leaves[12:]) == 13
    assert tree.root(13) == merkle.root_from_leaves(leaves)
