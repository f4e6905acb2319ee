//! Peer state sync is not used yet: a node that falls behind catches up by
//! replaying finalized blocks from marshal. The stateful actor still needs a
//! source type for its (never started) sync path; this one refuses every
//! request.

use commonware_cryptography::sha256;
use commonware_glue::stateful::db::{AttachableResolver, Shared};
use commonware_storage::qmdb::{
    any::{operation::Operation, unordered::Update, value::VariableEncoding},
    sync::source::{Request, Result as SourceResult, Source},
};
use lakh_state::{StateValue, db::Family};

#[derive(Clone, Copy, Debug, Default)]
pub struct NoStateSync;

#[derive(Debug, thiserror::Error)]
#[error("state sync is disabled on this node")]
pub struct StateSyncDisabled;

impl<DB: Send + Sync + 'static> AttachableResolver<DB> for NoStateSync {
    async fn attach_database(&self, _db: Shared<DB>) {}
}

impl Source for NoStateSync {
    type Family = Family;
    type Digest = sha256::Digest;
    type Op = Operation<Family, Update<sha256::Digest, VariableEncoding<StateValue>>>;
    type Error = StateSyncDisabled;

    async fn serve(&self, _request: Request<Family>) -> SourceResult<Self> {
        Err(StateSyncDisabled)
    }
}
