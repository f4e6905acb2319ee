//! The runtime capabilities a validator needs (satisfied by commonware's tokio
//! runtime in production and its deterministic runtime in simulations).

use commonware_runtime::{Clock, Metrics, Spawner, Storage, Supervisor};
use rand::{CryptoRng, Rng};

pub trait RuntimeContext:
    Clock + Metrics + Spawner + Storage + Supervisor + Rng + CryptoRng + Send + Sync + 'static
{
}

impl<T> RuntimeContext for T where
    T: Clock + Metrics + Spawner + Storage + Supervisor + Rng + CryptoRng + Send + Sync + 'static
{
}
