//! The bank answers no module queries: balances and assets are read through the node's account and asset RPC methods.
