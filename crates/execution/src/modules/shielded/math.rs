//! The pool's only arithmetic: whether a block's notes still fit the tree.
//! Values are u64 and custody moves go through the bank (checked there).

/// Whether `adding` more notes fit a tree of `capacity` leaves that holds
/// `count` and has `pending` more queued for the end of this block.
pub(crate) fn fits_tree(count: u64, pending: u64, adding: u64, capacity: u64) -> bool {
    count
        .checked_add(pending)
        .and_then(|n| n.checked_add(adding))
        .is_some_and(|n| n <= capacity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_last_leaf_fits_and_the_next_does_not() {
        let capacity = 1u64 << 32;
        assert!(fits_tree(capacity - 2, 0, 2, capacity));
        assert!(fits_tree(capacity - 2, 1, 1, capacity));
        assert!(!fits_tree(capacity - 2, 1, 2, capacity));
        assert!(!fits_tree(capacity, 0, 1, capacity));
        assert!(fits_tree(capacity, 0, 0, capacity));
        assert!(!fits_tree(u64::MAX, 1, 1, u64::MAX));
    }

    proptest! {
        #[test]
        fn fits_tree_is_the_exact_sum(count: u64, pending in 0u64..256, adding in 0u64..3, capacity: u64) {
            let exact = count as u128 + pending as u128 + adding as u128 <= capacity as u128;
            prop_assert_eq!(fits_tree(count, pending, adding, capacity), exact);
        }
    }
}
