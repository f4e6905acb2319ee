//! Amounts on the command line and on screen: in the asset's own units with
//! decimals (`--amount 1.5 --asset ETH`), or in base units with the global
//! `--base-units`. Every wallet command reads amounts through [`AmountArg`]
//! and [`Units`], so the conversion happens in one place
//! ([`lakh_types::decimal`]).

use anyhow::Context;
use lakh_rpc::{AssetRef, LakhClient};
use lakh_types::AssetId;
use lakh_types::decimal::{AmountError, MAX_AMOUNT_CHARS, format_units, parse_units};
use lakh_types::limits::MAX_DECIMALS;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;

/// An amount as typed: digits with at most one decimal point. Its base units
/// depend on the asset, so it is resolved later by [`Units::base_units`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AmountArg(String);

impl FromStr for AmountArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        // Only the syntax is checked here; precision and range need the asset.
        match parse_units(s, MAX_DECIMALS) {
            Err(e @ AmountError::Malformed { .. }) => Err(e.to_string()),
            _ if s.len() > MAX_AMOUNT_CHARS => {
                Err(format!("amount longer than {MAX_AMOUNT_CHARS}"))
            }
            _ => Ok(AmountArg(s.to_string())),
        }
    }
}

impl std::fmt::Display for AmountArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An asset's symbol and decimals, as the node's asset registry serves them.
#[derive(Clone, Debug)]
pub struct AssetUnits {
    pub symbol: String,
    pub decimals: u8,
}

/// Converts amounts between text and base units, asking the node for each
/// asset's decimals once.
pub struct Units {
    /// Amounts typed are base units (`--base-units`).
    pub base_units: bool,
    known: Mutex<HashMap<AssetId, AssetUnits>>,
}

impl Units {
    pub fn new(base_units: bool) -> Units {
        Units {
            base_units,
            known: Mutex::new(HashMap::new()),
        }
    }

    /// The symbol and decimals of `asset`.
    pub async fn of(&self, client: &LakhClient, asset: AssetId) -> anyhow::Result<AssetUnits> {
        if let Some(found) = self.lock().get(&asset) {
            return Ok(found.clone());
        }
        let info = client
            .asset(&AssetRef::Id(asset))
            .await?
            .with_context(|| format!("no asset {asset} on this chain"))?;
        let units = AssetUnits {
            symbol: info.symbol.to_string(),
            decimals: info.decimals,
        };
        self.lock().insert(asset, units.clone());
        Ok(units)
    }

    /// Base units of `amount` of `asset`; refuses an amount that would need
    /// rounding or does not fit in a u128.
    pub async fn base_units(
        &self,
        client: &LakhClient,
        amount: &AmountArg,
        asset: AssetId,
    ) -> anyhow::Result<u128> {
        if self.base_units {
            return parse_units(&amount.0, 0)
                .map_err(|e| anyhow::anyhow!("{e} (--base-units takes whole base units)"));
        }
        let units = self.of(client, asset).await?;
        parse_units(&amount.0, units.decimals).map_err(|e| match e {
            AmountError::TooManyDecimals { .. } => {
                anyhow::anyhow!("{} {}: {e}", units.symbol, amount.0)
            }
            _ => anyhow::anyhow!("{e}"),
        })
    }

    /// Like [`Units::base_units`] for an optional amount.
    pub async fn base_units_opt(
        &self,
        client: &LakhClient,
        amount: Option<&AmountArg>,
        asset: AssetId,
    ) -> anyhow::Result<Option<u128>> {
        match amount {
            Some(a) => Ok(Some(self.base_units(client, a, asset).await?)),
            None => Ok(None),
        }
    }

    /// `units` of `asset` for people: `1.5 ETH`.
    pub async fn show(
        &self,
        client: &LakhClient,
        units: u128,
        asset: AssetId,
    ) -> anyhow::Result<String> {
        let a = self.of(client, asset).await?;
        Ok(format!("{} {}", format_units(units, a.decimals), a.symbol))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AssetId, AssetUnits>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amount_arg_checks_syntax_only() {
        assert!("1.5".parse::<AmountArg>().is_ok());
        assert!(
            "0.0000000000000000000000000000001"
                .parse::<AmountArg>()
                .is_ok()
        );
        let e = "1,5".parse::<AmountArg>().unwrap_err();
        assert!(e.contains("malformed"), "{e}");
        assert!("-3".parse::<AmountArg>().is_err());
    }
}
