//! `lakh wallet farm`. PLACEHOLDER: the module's owner replaces this file.

use super::{Ctx, Output, SendOpts};

#[derive(clap::Subcommand, Debug)]
pub enum FarmCommand {
    /// Show the module's state (placeholder)
    Info {
        #[command(flatten)]
        send: SendOpts,
    },
}

pub(crate) async fn run(ctx: &Ctx<'_>, cmd: FarmCommand) -> anyhow::Result<Output> {
    let _ = ctx.client;
    match cmd {
        FarmCommand::Info { .. } => anyhow::bail!("not implemented"),
    }
}
