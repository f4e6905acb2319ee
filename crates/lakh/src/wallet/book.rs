//! `lakh wallet book`. PLACEHOLDER: the module's owner replaces this file.

use super::{Ctx, Output, SendOpts};

#[derive(clap::Subcommand, Debug)]
pub enum BookCommand {
    /// Show the module's state (placeholder)
    Info {
        #[command(flatten)]
        send: SendOpts,
    },
}

pub(crate) async fn run(ctx: &Ctx<'_>, cmd: BookCommand) -> anyhow::Result<Output> {
    let _ = ctx.client;
    match cmd {
        BookCommand::Info { .. } => anyhow::bail!("not implemented"),
    }
}
