//! The withdrawal tree's arithmetic: appending to the frontier, its root,
//! the partially filled subtree at the frontier's edge, and which nodes a
//! batch of appends completes. Pure functions of [`TreeState`].

use super::state::TreeState;
use lakh_types::modules::bridge::{
    Keccak, WITHDRAWAL_TREE_CAPACITY, WITHDRAWAL_TREE_DEPTH, empty_subtree_roots, node_hash,
};

impl TreeState {
    /// The empty tree.
    pub fn empty() -> Self {
        Self {
            count: 0,
            branch: [Keccak::default(); WITHDRAWAL_TREE_DEPTH],
        }
    }

    /// Appends `leaf` at index `count`; returns the internal nodes it
    /// completes as (height, position, value), lowest first. `None` when
    /// the tree is full.
    pub fn append(&mut self, leaf: Keccak) -> Option<Vec<(u8, u64, Keccak)>> {
        if self.count >= WITHDRAWAL_TREE_CAPACITY {
            return None;
        }
        let index = self.count;
        self.count += 1;
        let mut completed = Vec::new();
        let mut node = leaf;
        let mut size = self.count;
        for height in 0..WITHDRAWAL_TREE_DEPTH {
            if size & 1 == 1 {
                self.branch[height] = node;
                return Some(completed);
            }
            node = node_hash(&self.branch[height], &node);
            completed.push((height as u8 + 1, index >> (height + 1), node));
            size >>= 1;
        }
        // Unreachable below capacity: some bit of a count < 2^32 is set.
        Some(completed)
    }

    /// The root over every leaf appended so far.
    pub fn root(&self) -> Keccak {
        self.edge(WITHDRAWAL_TREE_DEPTH)
    }

    /// The root of the subtree of `height` that holds index `count` (the
    /// first empty leaf): the only subtree that is neither complete nor empty.
    pub fn edge(&self, height: usize) -> Keccak {
        let empty = empty_subtree_roots();
        let mut node = empty[0];
        for (h, branch) in self.branch.iter().enumerate().take(height) {
            node = if (self.count >> h) & 1 == 1 {
                node_hash(branch, &node)
            } else {
                node_hash(&node, &empty[h])
            };
        }
        node
    }
}

/// The internal nodes appending `adding` leaves to a tree of `count` leaves
/// may complete, as (height, first position, end position): per height
/// `h`, the positions `p` with `count < (p + 1)·2^h <= count + adding`.
pub fn completed_ranges(count: u64, adding: u64) -> impl Iterator<Item = (u8, u64, u64)> {
    let end = count.saturating_add(adding).min(WITHDRAWAL_TREE_CAPACITY);
    (1..WITHDRAWAL_TREE_DEPTH as u8)
        .map(move |h| (h, count >> h, end >> h))
        .filter(|(_, first, last)| first < last)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use lakh_types::committee::FixedBytes;

    fn leaf(i: u64) -> Keccak {
        lakh_types::modules::bridge::keccak(&[&i.to_be_bytes()])
    }

    /// The root by definition: hash every level of the full tree.
    fn reference_root(leaves: &[Keccak]) -> Keccak {
        let empty = empty_subtree_roots();
        let mut level: Vec<Keccak> = leaves.to_vec();
        for height in 0..WITHDRAWAL_TREE_DEPTH {
            if level.len() % 2 == 1 {
                level.push(empty[height]);
            }
            level = level
                .chunks(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
            if level.is_empty() {
                level.push(empty[height + 1]);
            }
        }
        level[0]
    }

    #[test]
    fn the_frontier_root_matches_the_reference_and_completions_are_the_declared_ones() {
        let mut tree = TreeState::empty();
        assert_eq!(tree.root(), empty_subtree_roots()[WITHDRAWAL_TREE_DEPTH]);
        let mut leaves = Vec::new();
        for i in 0..70u64 {
            let before = tree.count;
            let completed = tree.append(leaf(i)).unwrap();
            leaves.push(leaf(i));
            assert_eq!(
                tree.root(),
                reference_root(&leaves),
                "after {} leaves",
                i + 1
            );
            let declared: Vec<(u8, u64)> = completed_ranges(before, 1)
                .flat_map(|(h, a, b)| (a..b).map(move |p| (h, p)))
                .collect();
            let done: Vec<(u8, u64)> = completed.iter().map(|(h, p, _)| (*h, *p)).collect();
            assert_eq!(done, declared);
        }
        assert_ne!(tree.root(), FixedBytes([0; 32]));
    }
}
