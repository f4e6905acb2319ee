//! The oracle's one formula, the median of the fresh reports, is `Feed::price` in `state.rs`, next to the reports it reads.
