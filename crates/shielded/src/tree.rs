//! The note commitment tree: an append-only Merkle tree of note commitments.
//!
//! * [`NoteTree`] is the chain's view: a *frontier* (one pending left node per
//!   level) and a leaf count, the current root, and a ring of recent roots that
//!   spends may use as their anchor. Appending a block's `k` commitments
//!   together costs at most `k + D` hashes for the frontier (a binary
//!   counter's carries) plus `D` for the new root, instead of `D·k` for
//!   recomputing the root after every leaf.
//! * [`FullTree`] keeps every node: a wallet (or a test) takes authentication
//!   paths ([`MerklePath`]) from it.
//!
//! The depth `D` is a const generic: production uses [`TREE_DEPTH`] = 32
//! (2^32 notes, as Sapling); tests use small depths. Level `i` hashes with
//! its own domain tag `Merkle(i)`. The empty leaf is the field element 0 (no
//! note has commitment 0 short of a Poseidon preimage).

use std::collections::VecDeque;
use std::sync::OnceLock;

use ark_bn254::Fr;
use ark_ff::Zero;

use crate::poseidon::{self, Domain};
use crate::types::{MerkleRoot, NoteCommitment};

/// Production depth of the note commitment tree.
pub const TREE_DEPTH: usize = 32;
/// Largest supported depth (positions and counts are `u64`; the domain tag
/// of a level is a `u8`).
pub const MAX_DEPTH: usize = 32;
/// Production number of recent roots accepted as anchors.
pub const ANCHOR_WINDOW: usize = 100;

/// The value of an empty leaf.
pub fn empty_leaf() -> Fr {
    Fr::zero()
}

/// `empty_roots()[i]`: the root of an empty subtree of height `i`.
pub fn empty_roots() -> &'static [Fr; MAX_DEPTH + 1] {
    static EMPTY: OnceLock<[Fr; MAX_DEPTH + 1]> = OnceLock::new();
    EMPTY.get_or_init(|| {
        let mut out = [empty_leaf(); MAX_DEPTH + 1];
        for level in 0..MAX_DEPTH {
            out[level + 1] = node(level, out[level], out[level]);
        }
        out
    })
}

/// The parent of `left` and `right` at `level` (0 = parents of leaves).
pub fn node(level: usize, left: Fr, right: Fr) -> Fr {
    poseidon::hash2(Domain::Merkle(level as u8), left, right)
}

/// Why an append was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The leaves would not fit: the tree holds `capacity` leaves.
    #[error("note commitment tree full: {len} of {capacity} leaves used, {adding} more refused")]
    Full {
        /// Leaves the tree can hold, `2^D`.
        capacity: u64,
        /// Leaves already in.
        len: u64,
        /// Leaves refused.
        adding: u64,
    },
    /// A frontier given to [`NoteTree::from_frontier`] is inconsistent.
    #[error("inconsistent tree state: {0}")]
    State(&'static str),
}

pub(crate) const fn check_depth<const D: usize>() {
    assert!(D >= 1 && D <= MAX_DEPTH, "tree depth must be in 1..=32");
}

/// The chain's note commitment tree: frontier, count, root and recent roots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteTree<const D: usize> {
    /// `frontier[i]`: the left node at level `i` still waiting for its right
    /// sibling (meaningful when bit `i` of `count` is set).
    frontier: [Fr; D],
    count: u64,
    root: MerkleRoot,
    recent_roots: VecDeque<MerkleRoot>,
    anchor_window: usize,
}

impl<const D: usize> NoteTree<D> {
    /// Leaves the tree can hold: `2^D`.
    pub const CAPACITY: u64 = 1u64 << D;

    /// An empty tree whose last `anchor_window` roots (at least 1) are anchors.
    pub fn new(anchor_window: usize) -> Self {
        const { check_depth::<D>() };
        let root = MerkleRoot(empty_roots()[D]);
        let anchor_window = anchor_window.max(1);
        let mut recent_roots = VecDeque::with_capacity(anchor_window);
        recent_roots.push_back(root);
        Self {
            frontier: [empty_leaf(); D],
            count: 0,
            root,
            recent_roots,
            anchor_window,
        }
    }

    /// Restores a tree from stored state: leaf count, frontier and recent
    /// roots (oldest first). The root is recomputed and must be the newest
    /// recent root.
    pub fn from_frontier(
        count: u64,
        frontier: [Fr; D],
        recent_roots: Vec<MerkleRoot>,
        anchor_window: usize,
    ) -> Result<Self, TreeError> {
        const { check_depth::<D>() };
        if count > Self::CAPACITY {
            return Err(TreeError::State("count above capacity"));
        }
        let anchor_window = anchor_window.max(1);
        if recent_roots.is_empty() || recent_roots.len() > anchor_window {
            return Err(TreeError::State("recent roots must be 1..=anchor_window"));
        }
        let mut tree = Self {
            frontier,
            count,
            root: MerkleRoot(Fr::zero()),
            recent_roots: recent_roots.into(),
            anchor_window,
        };
        tree.root = MerkleRoot(tree.compute_root());
        if tree.recent_roots.back() != Some(&tree.root) {
            return Err(TreeError::State(
                "newest recent root is not the frontier's root",
            ));
        }
        Ok(tree)
    }

    /// Number of leaves appended.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether no leaf was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The current root.
    pub fn root(&self) -> MerkleRoot {
        self.root
    }

    /// The frontier, for storage (see [`NoteTree::from_frontier`]).
    pub fn frontier(&self) -> &[Fr; D] {
        &self.frontier
    }

    /// Recent roots, oldest first; the last is the current root.
    pub fn recent_roots(&self) -> impl Iterator<Item = &MerkleRoot> {
        self.recent_roots.iter()
    }

    /// Whether `root` is one of the recent roots a spend may anchor to.
    pub fn is_anchor(&self, root: &MerkleRoot) -> bool {
        self.recent_roots.contains(root)
    }

    /// Appends a block's commitments at once, in order, and records the new
    /// root as an anchor (once for the whole batch). Refuses the whole batch,
    /// changing nothing, if it does not fit. An empty batch changes nothing.
    pub fn append_batch(&mut self, leaves: &[NoteCommitment]) -> Result<MerkleRoot, TreeError> {
        let adding = leaves.len() as u64;
        if adding > Self::CAPACITY - self.count {
            return Err(TreeError::Full {
                capacity: Self::CAPACITY,
                len: self.count,
                adding,
            });
        }
        if leaves.is_empty() {
            return Ok(self.root);
        }
        let mut full_root = None;
        for leaf in leaves {
            let mut node_value = leaf.0;
            let mut index = self.count;
            let mut placed = false;
            for level in 0..D {
                if index & 1 == 0 {
                    self.frontier[level] = node_value;
                    placed = true;
                    break;
                }
                node_value = node(level, self.frontier[level], node_value);
                index >>= 1;
            }
            if !placed {
                // The last leaf: the climb reached the top, which is the root.
                full_root = Some(node_value);
            }
            self.count += 1;
        }
        self.root = MerkleRoot(full_root.unwrap_or_else(|| self.compute_root()));
        if self.recent_roots.len() == self.anchor_window {
            self.recent_roots.pop_front();
        }
        self.recent_roots.push_back(self.root);
        Ok(self.root)
    }

    /// Appends one commitment (a batch of one).
    pub fn append(&mut self, leaf: NoteCommitment) -> Result<MerkleRoot, TreeError> {
        self.append_batch(&[leaf])
    }

    /// The root from the frontier: `D` hashes.
    fn compute_root(&self) -> Fr {
        if self.count == Self::CAPACITY {
            // The last leaf's climb used the frontier without storing its own
            // path, so a full tree's root is not in the frontier: it is the
            // newest recorded root (no later append can change it).
            return self.recent_roots.back().map(|r| r.0).unwrap_or_default();
        }
        root_of_frontier(&self.frontier, self.count)
    }
}

/// An authentication path: the siblings from the leaf up, and the position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MerklePath<const D: usize> {
    /// Leaf position; bit `i` set means the path's node at level `i` is a
    /// right child.
    pub position: u64,
    /// `siblings[i]`: the sibling at level `i` (0 = the leaf's sibling).
    pub siblings: [Fr; D],
}

impl<const D: usize> MerklePath<D> {
    /// The root this path leads to from `leaf`.
    pub fn root(&self, leaf: NoteCommitment) -> MerkleRoot {
        let mut value = leaf.0;
        for (level, sibling) in self.siblings.iter().enumerate() {
            value = if (self.position >> level) & 1 == 1 {
                node(level, *sibling, value)
            } else {
                node(level, value, *sibling)
            };
        }
        MerkleRoot(value)
    }

    /// A path for a dummy input: position 0, empty siblings (its root is
    /// never checked, since a dummy has value 0).
    pub fn dummy() -> Self {
        let empty = empty_roots();
        Self {
            position: 0,
            siblings: core::array::from_fn(|i| empty[i]),
        }
    }
}

/// Every node of the tree: a wallet's (or a test's) source of paths.
///
/// Memory is about two field elements per leaf; appending `k` leaves costs
/// about `2k + D` hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullTree<const D: usize> {
    /// `levels[0]` are the leaves, `levels[D]` the root (once non-empty).
    levels: Vec<Vec<Fr>>,
}

impl<const D: usize> Default for FullTree<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const D: usize> FullTree<D> {
    /// An empty tree.
    pub fn new() -> Self {
        const { check_depth::<D>() };
        Self {
            levels: vec![Vec::new(); D + 1],
        }
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels[0].len() as u64
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    /// The leaf at `position`.
    pub fn leaf(&self, position: u64) -> Option<NoteCommitment> {
        self.levels[0]
            .get(position as usize)
            .copied()
            .map(NoteCommitment)
    }

    /// The root.
    pub fn root(&self) -> MerkleRoot {
        MerkleRoot(self.levels[D].first().copied().unwrap_or(empty_roots()[D]))
    }

    /// Appends leaves (all or none) and recomputes only the nodes they touch.
    pub fn append_batch(&mut self, leaves: &[NoteCommitment]) -> Result<MerkleRoot, TreeError> {
        let capacity = NoteTree::<D>::CAPACITY;
        let adding = leaves.len() as u64;
        if adding > capacity - self.len() {
            return Err(TreeError::Full {
                capacity,
                len: self.len(),
                adding,
            });
        }
        let empty = empty_roots();
        let mut start = self.levels[0].len();
        self.levels[0].extend(leaves.iter().map(|l| l.0));
        for level in 0..D {
            let (lower, upper) = self.levels.split_at_mut(level + 1);
            let children = &lower[level];
            let parents = &mut upper[0];
            let first = start / 2;
            let count = children.len().div_ceil(2);
            parents.truncate(first);
            for i in first..count {
                let left = children[2 * i];
                let right = children.get(2 * i + 1).copied().unwrap_or(empty[level]);
                parents.push(node(level, left, right));
            }
            start = first;
        }
        Ok(self.root())
    }

    /// The authentication path of the leaf at `position`, against the
    /// current root.
    pub fn path(&self, position: u64) -> Option<MerklePath<D>> {
        if position >= self.len() {
            return None;
        }
        let empty = empty_roots();
        let siblings = core::array::from_fn(|level| {
            let sibling = ((position >> level) ^ 1) as usize;
            self.levels[level]
                .get(sibling)
                .copied()
                .unwrap_or(empty[level])
        });
        Some(MerklePath { position, siblings })
    }
}

/// A subtree of height `height` being filled from the left.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cursor {
    height: usize,
    frontier: Vec<Fr>,
    count: u64,
}

impl Cursor {
    fn new(height: usize) -> Self {
        Self {
            height,
            frontier: vec![empty_leaf(); height],
            count: 0,
        }
    }

    /// Appends; returns the subtree's root when this leaf completes it.
    fn append(&mut self, leaf: Fr) -> Option<Fr> {
        let mut value = leaf;
        let mut index = self.count;
        self.count += 1;
        for level in 0..self.height {
            if index & 1 == 0 {
                self.frontier[level] = value;
                return None;
            }
            value = node(level, self.frontier[level], value);
            index >>= 1;
        }
        Some(value)
    }

    /// The root with the missing leaves empty.
    fn root(&self) -> Fr {
        root_of_frontier(&self.frontier, self.count)
    }
}

/// A wallet's authentication path for one note, kept current as later
/// commitments are appended, without storing the tree: `O(D)` memory, and
/// each later leaf costs about two hashes (amortised).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncrementalWitness<const D: usize> {
    position: u64,
    leaf: Fr,
    /// Left siblings, valid at the levels where `position` has a 1 bit.
    left: [Fr; D],
    /// Completed right siblings, bottom-up, at the levels where `position`
    /// has a 0 bit.
    filled: Vec<Fr>,
    /// The right sibling being filled (the next 0-bit level after `filled`).
    cursor: Option<Cursor>,
    /// Leaves in the tree (including this one and those after it).
    tree_len: u64,
}

impl<const D: usize> IncrementalWitness<D> {
    /// The witness of `leaf`, about to be appended to `tree` (call this
    /// *before* appending it; the leaf's position is `tree.len()`).
    pub fn new(tree: &NoteTree<D>, leaf: NoteCommitment) -> Result<Self, TreeError> {
        let position = tree.len();
        if position >= NoteTree::<D>::CAPACITY {
            return Err(TreeError::Full {
                capacity: NoteTree::<D>::CAPACITY,
                len: position,
                adding: 1,
            });
        }
        Ok(Self {
            position,
            leaf: leaf.0,
            left: tree.frontier,
            filled: Vec::new(),
            cursor: None,
            tree_len: position + 1,
        })
    }

    /// The note's position.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Leaves in the tree as this witness knows it.
    pub fn tree_len(&self) -> u64 {
        self.tree_len
    }

    /// Records that `leaf` was appended to the tree after this note.
    pub fn append(&mut self, leaf: NoteCommitment) -> Result<(), TreeError> {
        if self.tree_len >= NoteTree::<D>::CAPACITY {
            return Err(TreeError::Full {
                capacity: NoteTree::<D>::CAPACITY,
                len: self.tree_len,
                adding: 1,
            });
        }
        self.tree_len += 1;
        let mut cursor = match self.cursor.take() {
            Some(cursor) => cursor,
            None => {
                // The next level whose right sibling is not yet complete.
                let height = (0..D)
                    .filter(|level| (self.position >> level) & 1 == 0)
                    .nth(self.filled.len())
                    .ok_or(TreeError::State("no right sibling left to fill"))?;
                Cursor::new(height)
            }
        };
        match cursor.append(leaf.0) {
            Some(root) => self.filled.push(root),
            None => self.cursor = Some(cursor),
        }
        Ok(())
    }

    /// The current authentication path.
    pub fn path(&self) -> MerklePath<D> {
        let empty = empty_roots();
        let mut filled = self.filled.iter();
        let mut cursor = self.cursor.as_ref();
        let siblings = core::array::from_fn(|level| {
            if (self.position >> level) & 1 == 1 {
                self.left[level]
            } else if let Some(f) = filled.next() {
                *f
            } else if let Some(c) = cursor.take() {
                c.root()
            } else {
                empty[level]
            }
        });
        MerklePath {
            position: self.position,
            siblings,
        }
    }

    /// The root of the tree as this witness knows it.
    pub fn root(&self) -> MerkleRoot {
        self.path().root(NoteCommitment(self.leaf))
    }
}

/// The root over `count` leaves whose left siblings are `frontier`, the
/// missing leaves empty: one hash per level.
fn root_of_frontier(frontier: &[Fr], count: u64) -> Fr {
    let empty = empty_roots();
    let mut value = empty[0];
    for (level, left) in frontier.iter().enumerate() {
        value = if (count >> level) & 1 == 1 {
            node(level, *left, value)
        } else {
            node(level, value, empty[level])
        };
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaf(i: u64) -> NoteCommitment {
        NoteCommitment(Fr::from(1_000 + i))
    }

    /// The root by hashing every node of a `2^D`-leaf tree.
    fn naive_root<const D: usize>(leaves: &[NoteCommitment]) -> MerkleRoot {
        let mut level: Vec<Fr> = (0..1usize << D)
            .map(|i| leaves.get(i).map(|l| l.0).unwrap_or_else(empty_leaf))
            .collect();
        for height in 0..D {
            level = level.chunks(2).map(|p| node(height, p[0], p[1])).collect();
        }
        MerkleRoot(level[0])
    }

    fn check_all_ways<const D: usize>(batches: &[usize]) {
        let mut batched = NoteTree::<D>::new(8);
        let mut single = NoteTree::<D>::new(8);
        let mut full = FullTree::<D>::new();
        let mut all = Vec::new();
        for &size in batches {
            let fresh: Vec<_> = (all.len() as u64..(all.len() + size) as u64)
                .map(leaf)
                .collect();
            let fits = all.len() + size <= 1 << D;
            let before = batched.clone();
            let got = batched.append_batch(&fresh);
            let got_full = full.append_batch(&fresh);
            if !fits {
                assert!(matches!(got, Err(TreeError::Full { .. })));
                assert!(matches!(got_full, Err(TreeError::Full { .. })));
                assert_eq!(batched, before, "a refused batch changes nothing");
                continue;
            }
            for l in &fresh {
                single.append(*l).unwrap();
            }
            all.extend(fresh);
            let naive = naive_root::<D>(&all);
            assert_eq!(got.unwrap(), naive);
            assert_eq!(batched.root(), naive);
            assert_eq!(single.root(), naive);
            assert_eq!(got_full.unwrap(), naive);
            assert!(batched.is_anchor(&naive));
            // Every leaf's path leads to the current root.
            for (pos, l) in all.iter().enumerate() {
                assert_eq!(full.path(pos as u64).unwrap().root(*l), naive);
            }
            // Restoring from the stored frontier gives the same tree.
            let restored = NoteTree::<D>::from_frontier(
                batched.len(),
                *batched.frontier(),
                batched.recent_roots().copied().collect(),
                8,
            )
            .unwrap();
            assert_eq!(restored, batched);
        }
    }

    /// Witnesses made at every position follow the tree to its end.
    fn check_witnesses<const D: usize>(total: usize, mine: &[usize]) {
        let mut tree = NoteTree::<D>::new(4);
        let mut full = FullTree::<D>::new();
        let mut witnesses: Vec<IncrementalWitness<D>> = Vec::new();
        for i in 0..total as u64 {
            let l = leaf(i);
            for w in witnesses.iter_mut() {
                w.append(l).unwrap();
            }
            if mine.contains(&(i as usize)) {
                witnesses.push(IncrementalWitness::new(&tree, l).unwrap());
            }
            tree.append(l).unwrap();
            full.append_batch(&[l]).unwrap();
            for w in &witnesses {
                assert_eq!(w.path(), full.path(w.position()).unwrap());
                assert_eq!(w.root(), tree.root());
            }
        }
        if total as u64 == NoteTree::<D>::CAPACITY {
            for w in witnesses.iter_mut() {
                assert!(w.append(leaf(99)).is_err());
            }
        }
    }

    #[test]
    fn incremental_witness_tracks_the_root() {
        check_witnesses::<4>(16, &(0..16).collect::<Vec<_>>());
        check_witnesses::<1>(2, &[0, 1]);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn incremental_witness_matches_full_tree(total in 1usize..33, mine in proptest::collection::vec(0usize..32, 1..4)) {
            check_witnesses::<5>(total, &mine);
        }

        #[test]
        fn batch_equals_single_equals_naive(batches in proptest::collection::vec(0usize..7, 1..8)) {
            check_all_ways::<1>(&batches);
            check_all_ways::<3>(&batches);
            check_all_ways::<4>(&batches);
        }
    }

    #[test]
    fn fills_exactly_then_refuses() {
        check_all_ways::<3>(&[3, 5, 1, 0]);
        check_all_ways::<2>(&[4]);
        let mut tree = NoteTree::<2>::new(4);
        tree.append_batch(&[leaf(0), leaf(1), leaf(2), leaf(3)])
            .unwrap();
        assert_eq!(
            tree.append(leaf(4)),
            Err(TreeError::Full {
                capacity: 4,
                len: 4,
                adding: 1
            })
        );
        let mut full = FullTree::<2>::new();
        full.append_batch(&[leaf(0), leaf(1), leaf(2), leaf(3)])
            .unwrap();
        assert_eq!(full.root(), tree.root());
        assert!(full.append_batch(&[leaf(4)]).is_err());
    }

    #[test]
    fn anchor_ring_forgets_old_roots() {
        let mut tree = NoteTree::<4>::new(3);
        let empty_root = tree.root();
        let r1 = tree.append(leaf(0)).unwrap();
        let r2 = tree.append(leaf(1)).unwrap();
        assert!(tree.is_anchor(&empty_root));
        let r3 = tree.append(leaf(2)).unwrap();
        assert!(!tree.is_anchor(&empty_root), "pushed out of a ring of 3");
        for r in [r1, r2, r3] {
            assert!(tree.is_anchor(&r));
        }
        assert!(!tree.is_anchor(&MerkleRoot(Fr::from(5u64))));
        // An empty block records no new root.
        tree.append_batch(&[]).unwrap();
        assert!(tree.is_anchor(&r1));
    }

    #[test]
    fn production_depth_batch_cost() {
        // A block of 64 notes at depth 32: frontier updates plus one root.
        let mut tree = NoteTree::<TREE_DEPTH>::new(ANCHOR_WINDOW);
        let leaves: Vec<_> = (0..64).map(leaf).collect();
        let _ = empty_roots();
        let before = poseidon::hash_count();
        let root = tree.append_batch(&leaves).unwrap();
        let hashes = poseidon::hash_count() - before;
        assert!(hashes <= 64 + 2 * TREE_DEPTH as u64, "{hashes} hashes");
        let mut full = FullTree::<TREE_DEPTH>::new();
        assert_eq!(full.append_batch(&leaves).unwrap(), root);
        assert_eq!(full.path(37).unwrap().root(leaf(37)), root);
        assert!(!tree.is_anchor(&MerkleRoot(Fr::zero())));
    }

    #[test]
    fn from_frontier_refuses_inconsistent_state() {
        let mut tree = NoteTree::<3>::new(4);
        tree.append_batch(&[leaf(0), leaf(1), leaf(2)]).unwrap();
        let roots: Vec<_> = tree.recent_roots().copied().collect();
        assert!(NoteTree::<3>::from_frontier(4, *tree.frontier(), roots.clone(), 4).is_err());
        assert!(NoteTree::<3>::from_frontier(9, *tree.frontier(), roots.clone(), 4).is_err());
        assert!(NoteTree::<3>::from_frontier(3, *tree.frontier(), vec![], 4).is_err());
        assert!(NoteTree::<3>::from_frontier(3, *tree.frontier(), roots, 4).is_ok());
    }
}
