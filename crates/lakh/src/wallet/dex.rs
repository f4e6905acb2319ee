//! `lakh wallet dex`. PLACEHOLDER: the module's owner replaces this file.

use super::{Ctx, Output, SendOpts};

#[derive(clap::Subcommand, Debug)]
pub enum DexCommand {
    /// Show the module's state (placeholder)
    Info {
        #[command(flatten)]
        send: SendOpts,
    },
}

pub(crate) async fn run(ctx: &Ctx<'_>, cmd: DexCommand) -> anyhow::Result<Output> {
    let _ = ctx.client;
    match cmd {
        DexCommand::Info { .. } => anyhow::bail!("not implemented"),
    }
}
