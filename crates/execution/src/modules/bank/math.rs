//! The bank needs no formulas beyond checked u128 addition and subtraction, done in `actions.rs` and the kit.
