//! `lakh wallet oracle`. PLACEHOLDER: the module's owner replaces this file.

use super::{Ctx, Output, SendOpts};

#[derive(clap::Subcommand, Debug)]
pub enum OracleCommand {
    /// Show the module's state (placeholder)
    Info {
        #[command(flatten)]
        send: SendOpts,
    },
}

pub(crate) async fn run(ctx: &Ctx<'_>, cmd: OracleCommand) -> anyhow::Result<Output> {
    let _ = ctx.client;
    match cmd {
        OracleCommand::Info { .. } => anyhow::bail!("not implemented"),
    }
}
