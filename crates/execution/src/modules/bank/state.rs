//! The bank keeps no objects of its own: balances, supply and symbols are the state's own `Account`, `Balance`, `Asset` and `Symbol` entries, read and written through the kit.
