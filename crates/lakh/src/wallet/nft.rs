//! `lakh wallet nft`: music NFTs. Create a collection with a royalty split,
//! mint works from audio files (hashes computed here with sha256), record
//! AI provenance (prompt commit, then reveal in a later block), attest it,
//! trade on the native marketplace (listings, offers, auctions: every sale
//! pays the royalty), buy licences and register derivatives.
//!
//! Sending commands fill in what the action must name (the token's
//! collection and ancestors' collections, the accounts a sale credits) from
//! the node's state, wait for finality and print the receipt, plus the id of
//! what they created.

use super::{Ctx, Output, SendOpts, query_answer, query_output, resolve_asset, send_action};
use crate::keys::{load_key, resolve_address};
use anyhow::{Context, bail};
use lakh_types::codec::{BoundedVec, Text};
use lakh_types::modules::nft::provenance::{ProvenanceFile, model_id, provenance_actions};
use lakh_types::modules::nft::query::{AuctionAnswer, ListingAnswer, OfferAnswer, TokenAnswer};
use lakh_types::modules::nft::{
    CollectionId, CollectionKind, EDITION_SHARDS, Hash32, LicenceId, LicenceTerms, MAX_PAYEES,
    MAX_PLAN_PARTS, NftAction, NftEvent, OfferId, ParentLink, SplitShare, TokenId, TransferPolicy,
    sign_attestation,
};
use lakh_types::{Action, Address, AssetId, Event, PrivateKey};
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand, Debug)]
pub enum NftCommand {
    /// Create a collection (1/1 by default; --max-editions N or --open-until H)
    CreateCollection {
        #[arg(long)]
        from: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        symbol: String,
        /// Royalty on every sale, basis points (at most 5000)
        #[arg(long)]
        royalty_bps: u32,
        /// A royalty recipient and its share, NAME:SHARE (key name or address; repeat)
        #[arg(long = "split", required = true)]
        split: Vec<String>,
        /// free | market-only | min-fee
        #[arg(long, default_value = "free")]
        policy: String,
        /// The min-fee policy's fee (base units of --fee-asset)
        #[arg(long)]
        min_fee: Option<u128>,
        /// Asset of the min-fee policy and of the licence fee (symbol or id)
        #[arg(long, default_value = "LAKH")]
        fee_asset: String,
        /// A limited edition of N
        #[arg(long, conflicts_with = "open_until")]
        max_editions: Option<u64>,
        /// An open edition minted until this height
        #[arg(long)]
        open_until: Option<u64>,
        /// Offer licences sharing this much of every derivative sale (ppm)
        #[arg(long)]
        licence_share_ppm: Option<u32>,
        /// Price of one licence (base units of --fee-asset)
        #[arg(long, default_value_t = 0)]
        licence_fee: u128,
        /// Licences do not allow derivatives
        #[arg(long)]
        no_derivatives: bool,
        /// Licences are not transferable
        #[arg(long)]
        licence_not_transferable: bool,
        /// Licences are for non-commercial use only
        #[arg(long)]
        non_commercial: bool,
        /// Licences expire at this height
        #[arg(long, default_value_t = 0)]
        licence_expiry: u64,
        /// File with the licence's legal text (its sha256 is recorded)
        #[arg(long)]
        legal: Option<PathBuf>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Mint a work from an audio file (creator only); with --provenance, also
    /// commit to the prompt and reveal the provenance record in a later block
    Mint(MintArgs),
    /// Mint a derivative work: like mint, with --parent TOKEN:LICENCE (repeat)
    Derive(MintArgs),
    /// Show a token, its collection, provenance, listing and auction
    Show { token: TokenId },
    /// A token's history, oldest first
    History { token: TokenId },
    /// Show a collection
    Collection { collection: CollectionId },
    /// Give a token away (under the collection's transfer policy)
    Transfer {
        #[arg(long)]
        from: String,
        #[arg(long)]
        token: TokenId,
        #[arg(long)]
        to: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// List a token at a fixed price
    List {
        #[arg(long)]
        from: String,
        #[arg(long)]
        token: TokenId,
        /// Base units of --asset
        #[arg(long)]
        price: u128,
        #[arg(long, default_value = "LAKH")]
        asset: String,
        /// Listing lifetime (blocks)
        #[arg(long, default_value_t = 100_000)]
        blocks: u64,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Buy a listed token
    Buy {
        #[arg(long)]
        from: String,
        #[arg(long)]
        token: TokenId,
        /// Most to pay [default: the listed price]
        #[arg(long)]
        max_price: Option<u128>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Offer an escrowed amount for a token
    Offer {
        #[arg(long)]
        from: String,
        #[arg(long)]
        token: TokenId,
        #[arg(long)]
        amount: u128,
        #[arg(long, default_value = "LAKH")]
        asset: String,
        /// Offer lifetime (blocks)
        #[arg(long, default_value_t = 100_000)]
        blocks: u64,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Accept an offer for your token
    Accept {
        #[arg(long)]
        from: String,
        #[arg(long)]
        offer: OfferId,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Start an English auction
    Auction {
        #[arg(long)]
        from: String,
        #[arg(long)]
        token: TokenId,
        /// Least first bid (base units of --asset)
        #[arg(long)]
        reserve: u128,
        #[arg(long, default_value = "LAKH")]
        asset: String,
        /// Auction length (blocks)
        #[arg(long)]
        blocks: u64,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Bid on an auction
    Bid {
        #[arg(long)]
        from: String,
        #[arg(long)]
        token: TokenId,
        /// The bid [default: the least acceptable]
        #[arg(long)]
        amount: Option<u128>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Settle an ended auction (anyone)
    Settle {
        #[arg(long)]
        from: String,
        #[arg(long)]
        token: TokenId,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Cancel your listing or auction (--token) or your offer (--offer)
    Cancel {
        #[arg(long)]
        from: String,
        #[arg(long, conflicts_with = "offer", required_unless_present = "offer")]
        token: Option<TokenId>,
        #[arg(long)]
        offer: Option<OfferId>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Buy a licence token for a work (its fee goes through the split)
    License {
        #[arg(long)]
        from: String,
        #[arg(long)]
        token: TokenId,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Attester registry
    #[command(subcommand)]
    Attester(AttesterCommand),
    /// Sign and submit an attestation of a token's provenance record with
    /// an attester's key (registered for the record's model)
    Attest {
        /// The attester's key (it also sends the transaction)
        #[arg(long)]
        from: String,
        #[arg(long)]
        token: TokenId,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Write a short synthesized track (a WAV the demo mints) and print its sha256
    DemoTrack {
        /// Where to write the WAV file
        #[arg(long)]
        out: PathBuf,
        /// Picks the melody
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Length in seconds (1..=30)
        #[arg(long, default_value_t = 4)]
        seconds: u32,
    },
    /// Set the protocol fee (the chain admin only)
    SetFee {
        #[arg(long)]
        from: String,
        #[arg(long)]
        fee_bps: u32,
        #[arg(long)]
        recipient: String,
        #[command(flatten)]
        send: SendOpts,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum AttesterCommand {
    /// Register an attester for a model (the chain admin only)
    Register {
        #[arg(long)]
        from: String,
        /// Model id: 64 hex characters, or any text (its sha256 is used)
        #[arg(long)]
        model: String,
        /// Key name or address
        #[arg(long)]
        attester: String,
        #[command(flatten)]
        send: SendOpts,
    },
}

#[derive(clap::Args, Debug)]
pub struct MintArgs {
    #[arg(long)]
    from: String,
    #[arg(long)]
    collection: CollectionId,
    /// The audio master (content hash = its sha256)
    #[arg(long)]
    file: PathBuf,
    /// Metadata file (metadata hash = its sha256; zero without)
    #[arg(long)]
    metadata: Option<PathBuf>,
    /// Where metadata and media may be fetched [default: file://NAME]
    #[arg(long)]
    uri: Option<String>,
    /// First owner [default: --from]
    #[arg(long)]
    to: Option<String>,
    /// Edition counter (0..16) [default: 0 for a 1/1, else random]
    #[arg(long)]
    shard: Option<u8>,
    /// Freeze metadata at mint
    #[arg(long)]
    freeze: bool,
    /// JSON provenance record: {"model", "model_version", "prompt", "seed",
    /// "params", "contributors": [names]}
    #[arg(long)]
    provenance: Option<PathBuf>,
    /// A parent work and your licence for it, TOKEN:LICENCE (repeat)
    #[arg(long = "parent")]
    parents: Vec<String>,
    #[command(flatten)]
    send: SendOpts,
}

/// sha256 of a file's bytes.
pub fn file_hash(path: &Path) -> anyhow::Result<Hash32> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Hash32::sha256(&bytes))
}

fn parse_split(ctx: &Ctx<'_>, entries: &[String]) -> anyhow::Result<BoundedVec<SplitShare, 8>> {
    let mut out = Vec::new();
    for e in entries {
        let (name, share) = e
            .rsplit_once(':')
            .with_context(|| format!("--split {e:?}: expected NAME:SHARE"))?;
        let recipient = resolve_address(ctx.keys_dir, name)?;
        let share: u32 = share
            .parse()
            .with_context(|| format!("--split {e:?}: share must be a positive integer"))?;
        out.push(SplitShare { recipient, share });
    }
    let n = out.len();
    BoundedVec::new(out).with_context(|| format!("{n} split recipients, at most 8"))
}

fn payees(list: Vec<Address>) -> anyhow::Result<BoundedVec<Address, MAX_PAYEES>> {
    let n = list.len();
    BoundedVec::new(list).with_context(|| format!("{n} payees, at most {MAX_PAYEES}"))
}

fn collections(
    list: Vec<CollectionId>,
) -> anyhow::Result<BoundedVec<CollectionId, MAX_PLAN_PARTS>> {
    let n = list.len();
    BoundedVec::new(list).with_context(|| format!("{n} collections, at most {MAX_PLAN_PARTS}"))
}

async fn token_info(ctx: &Ctx<'_>, token: TokenId) -> anyhow::Result<TokenAnswer> {
    query_answer(ctx.client, "nft", "token", json!({ "token": token })).await
}

async fn height(ctx: &Ctx<'_>) -> anyhow::Result<u64> {
    Ok(ctx.client.head().await?.height)
}

pub(crate) async fn run(ctx: &Ctx<'_>, cmd: NftCommand) -> anyhow::Result<Output> {
    let client = ctx.client;
    match cmd {
        NftCommand::CreateCollection {
            from,
            name,
            symbol,
            royalty_bps,
            split,
            policy,
            min_fee,
            fee_asset,
            max_editions,
            open_until,
            licence_share_ppm,
            licence_fee,
            no_derivatives,
            licence_not_transferable,
            non_commercial,
            licence_expiry,
            legal,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let fee_asset = resolve_asset(client, &fee_asset).await?.id;
            let policy = match (policy.as_str(), min_fee) {
                ("free", None) => TransferPolicy::Free {},
                ("market-only", None) => TransferPolicy::MarketOnly {},
                ("min-fee", Some(amount)) => TransferPolicy::MinFee {
                    asset: fee_asset,
                    amount,
                },
                ("min-fee", None) => bail!("--policy min-fee needs --min-fee"),
                (_, Some(_)) => bail!("--min-fee goes with --policy min-fee"),
                (other, _) => bail!("--policy {other:?}: free, market-only or min-fee"),
            };
            let kind = match (max_editions, open_until) {
                (Some(max_editions), _) => CollectionKind::Limited { max_editions },
                (None, Some(until_height)) => CollectionKind::Open { until_height },
                (None, None) => CollectionKind::OneOfOne {},
            };
            let licence = match licence_share_ppm {
                None => None,
                Some(revenue_share_ppm) => Some(LicenceTerms {
                    commercial_use: !non_commercial,
                    derivatives_allowed: !no_derivatives,
                    attribution: true,
                    revenue_share_ppm,
                    fee_asset,
                    minting_fee: licence_fee,
                    expiry_height: licence_expiry,
                    transferable: !licence_not_transferable,
                    legal_hash: match legal {
                        Some(p) => file_hash(&p)?,
                        None => Hash32::default(),
                    },
                }),
            };
            let action = NftAction::CreateCollection {
                name: Text::new(name).context("--name: at most 64 bytes")?,
                symbol: Text::new(symbol).context("--symbol: at most 16 bytes")?,
                kind,
                royalty_bps,
                split: parse_split(ctx, &split)?,
                licence,
                policy,
            };
            lakh_types::modules::nft::check(&action).map_err(anyhow::Error::msg)?;
            send_nft(ctx, &key, action, &send).await
        }
        NftCommand::Mint(args) => mint(ctx, args, false).await,
        NftCommand::Derive(args) => mint(ctx, args, true).await,
        NftCommand::Show { token } => {
            query_output(client, "nft", "token", json!({ "token": token })).await
        }
        NftCommand::History { token } => {
            query_output(client, "nft", "history", json!({ "token": token })).await
        }
        NftCommand::Collection { collection } => {
            query_output(
                client,
                "nft",
                "collection",
                json!({ "collection": collection }),
            )
            .await
        }
        NftCommand::Transfer {
            from,
            token,
            to,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let to = resolve_address(ctx.keys_dir, &to)?;
            let t = token_info(ctx, token).await?;
            let fee_asset = match t.info.policy {
                TransferPolicy::MinFee { asset, .. } => asset,
                _ => AssetId::NATIVE,
            };
            let action = NftAction::Transfer {
                token,
                collection: t.info.collection,
                to,
                fee_asset,
                payees: payees(t.split_payees)?,
            };
            send_nft(ctx, &key, action, &send).await
        }
        NftCommand::List {
            from,
            token,
            price,
            asset,
            blocks,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let asset = resolve_asset(client, &asset).await?.id;
            let t = token_info(ctx, token).await?;
            let action = NftAction::List {
                token,
                asset,
                price,
                expiry_height: height(ctx).await? + blocks.max(2),
                collections: collections(t.collections)?,
            };
            send_nft(ctx, &key, action, &send).await
        }
        NftCommand::Buy {
            from,
            token,
            max_price,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let l: ListingAnswer =
                query_answer(client, "nft", "listing", json!({ "token": token })).await?;
            let action = NftAction::Buy {
                token,
                asset: l.listing.asset,
                max_price: max_price.unwrap_or(l.listing.price),
                payees: payees(l.payees)?,
            };
            send_nft(ctx, &key, action, &send).await
        }
        NftCommand::Offer {
            from,
            token,
            amount,
            asset,
            blocks,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let asset = resolve_asset(client, &asset).await?.id;
            let action = NftAction::MakeOffer {
                token,
                asset,
                amount,
                expiry_height: height(ctx).await? + blocks.max(2),
            };
            send_nft(ctx, &key, action, &send).await
        }
        NftCommand::Accept { from, offer, send } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let o: OfferAnswer =
                query_answer(client, "nft", "offer", json!({ "offer": offer })).await?;
            let action = NftAction::AcceptOffer {
                offer,
                token: o.info.token,
                asset: o.info.asset,
                bidder: o.info.bidder,
                collections: collections(o.collections)?,
                payees: payees(o.payees)?,
            };
            send_nft(ctx, &key, action, &send).await
        }
        NftCommand::Auction {
            from,
            token,
            reserve,
            asset,
            blocks,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let asset = resolve_asset(client, &asset).await?.id;
            let t = token_info(ctx, token).await?;
            let action = NftAction::StartAuction {
                token,
                asset,
                reserve,
                end_height: height(ctx).await? + blocks.max(2),
                collections: collections(t.collections)?,
            };
            send_nft(ctx, &key, action, &send).await
        }
        NftCommand::Bid {
            from,
            token,
            amount,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let a: AuctionAnswer =
                query_answer(client, "nft", "auction", json!({ "token": token })).await?;
            let action = NftAction::Bid {
                token,
                asset: a.auction.asset,
                amount: amount.unwrap_or(a.min_bid),
                previous_bidder: a.auction.highest_bidder,
            };
            send_nft(ctx, &key, action, &send).await
        }
        NftCommand::Settle { from, token, send } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let a: AuctionAnswer =
                query_answer(client, "nft", "auction", json!({ "token": token })).await?;
            let action = NftAction::SettleAuction {
                token,
                asset: a.auction.asset,
                payees: payees(a.payees)?,
            };
            send_nft(ctx, &key, action, &send).await
        }
        NftCommand::Cancel {
            from,
            token,
            offer,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let action = match (token, offer) {
                (_, Some(offer)) => {
                    let o: OfferAnswer =
                        query_answer(client, "nft", "offer", json!({ "offer": offer })).await?;
                    NftAction::CancelOffer {
                        offer,
                        asset: o.info.asset,
                    }
                }
                (Some(token), None) => {
                    let t = token_info(ctx, token).await?;
                    if t.auction.is_some() {
                        NftAction::CancelAuction { token }
                    } else {
                        NftAction::CancelListing { token }
                    }
                }
                (None, None) => bail!("give --token or --offer"),
            };
            send_nft(ctx, &key, action, &send).await
        }
        NftCommand::License { from, token, send } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let t = token_info(ctx, token).await?;
            let Some(terms) = &t.collection.licence else {
                bail!("collection {} offers no licence", t.info.collection);
            };
            let action = NftAction::BuyLicence {
                token,
                collection: t.info.collection,
                asset: terms.fee_asset,
                payees: payees(t.split_payees)?,
            };
            send_nft(ctx, &key, action, &send).await
        }
        NftCommand::Attester(AttesterCommand::Register {
            from,
            model,
            attester,
            send,
        }) => {
            let key = load_key(ctx.keys_dir, &from)?;
            let action = NftAction::RegisterAttester {
                model_id: model_id(&model),
                attester: resolve_address(ctx.keys_dir, &attester)?,
            };
            send_nft(ctx, &key, action, &send).await
        }
        NftCommand::Attest { from, token, send } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let t = token_info(ctx, token).await?;
            let Some(p) = t.provenance else {
                bail!("token {token} has no provenance record to attest");
            };
            let action = attest_action(
                &key,
                token,
                &p.model_id,
                &p.prompt_hash,
                p.seed,
                &p.output_hash,
            );
            send_nft(ctx, &key, action, &send).await
        }
        NftCommand::DemoTrack { out, seed, seconds } => {
            let track = write_demo_track(&out, seed, seconds)?;
            let text = format!(
                "wrote {} ({} bytes, {seconds} s)\nsha256 {}\n",
                out.display(),
                track.bytes,
                track.sha256
            );
            Ok(Output::ok(
                json!({ "path": out, "bytes": track.bytes, "sha256": track.sha256 }),
                text,
            ))
        }
        NftCommand::SetFee {
            from,
            fee_bps,
            recipient,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let action = NftAction::SetFee {
                fee_bps,
                fee_recipient: resolve_address(ctx.keys_dir, &recipient)?,
            };
            send_nft(ctx, &key, action, &send).await
        }
    }
}

/// Longest track [`write_demo_track`] writes (seconds).
pub const MAX_DEMO_TRACK_SECONDS: u32 = 30;

/// A track [`write_demo_track`] wrote.
pub struct DemoTrack {
    pub bytes: usize,
    /// sha256 of the file: the content hash a mint of it records.
    pub sha256: Hash32,
}

/// Writes the [`synth_wav`] track of `seed` (1..=30 seconds) to `out`: what
/// `nft demo-track` does and what the devnet's demo mints.
pub fn write_demo_track(out: &Path, seed: u64, seconds: u32) -> anyhow::Result<DemoTrack> {
    if !(1..=MAX_DEMO_TRACK_SECONDS).contains(&seconds) {
        bail!("--seconds {seconds} must be within 1..={MAX_DEMO_TRACK_SECONDS}");
    }
    let wav = synth_wav(seed, seconds);
    std::fs::write(out, &wav).with_context(|| format!("writing {}", out.display()))?;
    Ok(DemoTrack {
        bytes: wav.len(),
        sha256: Hash32::sha256(&wav),
    })
}

/// Sample rate of [`synth_wav`] (Hz).
const SYNTH_RATE: u32 = 8_000;

/// A short track generated by code: 16-bit mono PCM WAV at 8 kHz, a
/// melody of eighth notes from a pentatonic scale picked by `seed`, in
/// integer arithmetic only (so the bytes, and their sha256, are the same on
/// every machine).
pub fn synth_wav(seed: u64, seconds: u32) -> Vec<u8> {
    // Semitone frequencies (Hz, x100) of a C-major pentatonic over two octaves.
    const SCALE: [u32; 10] = [
        26_163, 29_366, 32_963, 39_200, 44_000, 52_325, 58_733, 65_926, 78_399, 88_000,
    ];
    let samples = SYNTH_RATE * seconds;
    let note_len = SYNTH_RATE / 4;
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut pcm: Vec<u8> = Vec::with_capacity(samples as usize * 2);
    let mut freq = SCALE[0];
    let mut phase: u64 = 0;
    for i in 0..samples {
        if i % note_len == 0 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            freq = SCALE[(state >> 33) as usize % SCALE.len()];
        }
        // Phase in 1/65536 of a cycle; a triangle wave with a decaying envelope.
        phase = (phase + (freq as u64 * 65_536) / (SYNTH_RATE as u64 * 100)) % 65_536;
        let tri = if phase < 32_768 {
            phase as i64 * 2 - 32_768
        } else {
            (65_536 - phase as i64) * 2 - 32_768
        };
        let left = (note_len - i % note_len) as i64;
        let sample = tri * left / note_len as i64 / 3;
        pcm.extend_from_slice(&(sample as i16).to_le_bytes());
    }
    let mut wav = Vec::with_capacity(44 + pcm.len());
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + pcm.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&SYNTH_RATE.to_le_bytes());
    wav.extend_from_slice(&(SYNTH_RATE * 2).to_le_bytes()); // bytes per second
    wav.extend_from_slice(&2u16.to_le_bytes()); // block align
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(pcm.len() as u32).to_le_bytes());
    wav.extend_from_slice(&pcm);
    wav
}

fn address_of(key: &PrivateKey) -> Address {
    use commonware_cryptography::Signer;
    Address::from(&key.public_key())
}

async fn mint(ctx: &Ctx<'_>, a: MintArgs, derive: bool) -> anyhow::Result<Output> {
    if derive && a.parents.is_empty() {
        bail!("derive needs at least one --parent TOKEN:LICENCE");
    }
    let key = load_key(ctx.keys_dir, &a.from)?;
    let content_hash = file_hash(&a.file)?;
    let metadata_hash = match &a.metadata {
        Some(p) => file_hash(p)?,
        None => Hash32::default(),
    };
    let uri = a.uri.clone().unwrap_or_else(|| {
        let name = a.file.file_name().map(|n| n.to_string_lossy().into_owned());
        format!("file://{}", name.unwrap_or_default())
    });
    let collection: lakh_types::modules::nft::query::CollectionAnswer = query_answer(
        ctx.client,
        "nft",
        "collection",
        json!({ "collection": a.collection }),
    )
    .await?;
    let shard = match (a.shard, &collection.info.kind) {
        (Some(s), _) => s,
        (None, CollectionKind::OneOfOne {}) => 0,
        (None, _) => rand::random::<u8>() % EDITION_SHARDS,
    };
    let mut parents = Vec::new();
    for p in &a.parents {
        let (token, licence) = p
            .split_once(':')
            .with_context(|| format!("--parent {p:?}: expected TOKEN:LICENCE"))?;
        parents.push(ParentLink {
            token: token.parse().context("--parent: token id")?,
            licence: licence
                .parse::<LicenceId>()
                .context("--parent: licence id")?,
        });
    }
    let provenance = match &a.provenance {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let p = ProvenanceFile::parse(&text).map_err(|e| {
                anyhow::anyhow!("{} is not a provenance record: {e}", path.display())
            })?;
            Some(p)
        }
        None => None,
    };
    let to = match &a.to {
        Some(to) => resolve_address(ctx.keys_dir, to)?,
        None => address_of(&key),
    };
    let n = parents.len();
    let action = NftAction::Mint {
        collection: a.collection,
        shard,
        to,
        content_hash,
        metadata_hash,
        uri: Text::new(uri).context("--uri: at most 200 bytes")?,
        freeze: a.freeze,
        parents: BoundedVec::new(parents).with_context(|| format!("{n} parents, at most 4"))?,
    };
    lakh_types::modules::nft::check(&action).map_err(anyhow::Error::msg)?;
    let mut out = send_nft(ctx, &key, action, &a.send).await?;
    if out.failure.is_some() {
        return Ok(out);
    }
    if let Some(p) = provenance {
        let token: TokenId = serde_json::from_value(out.json["token_id"].clone())
            .context("the mint's receipt names no token")?;
        let record = record_provenance(ctx, &key, token, content_hash, &p, &a.send).await?;
        out.text.push_str(&record.text);
        out.json["provenance"] = record.json;
        if let Some(f) = record.failure {
            out.failure = Some(f);
        }
    }
    Ok(out)
}

/// Commits to the prompt, waits for finality, then reveals the record (a
/// later block, as the chain requires).
async fn record_provenance(
    ctx: &Ctx<'_>,
    key: &PrivateKey,
    token: TokenId,
    content_hash: Hash32,
    p: &ProvenanceFile,
    send: &SendOpts,
) -> anyhow::Result<Output> {
    let mut contributors = Vec::new();
    for c in &p.contributors {
        contributors.push(resolve_address(ctx.keys_dir, c)?);
    }
    let salt = Hash32(rand::random());
    let actions = provenance_actions(&address_of(key), token, content_hash, p, contributors, salt)
        .map_err(anyhow::Error::msg)?;
    let commit = send_nft(ctx, key, actions.commit, send).await?;
    if commit.failure.is_some() {
        return Ok(commit);
    }
    let mut out = send_nft(ctx, key, actions.record, send).await?;
    let _ = writeln!(
        out.text,
        "provenance  prompt {} committed then revealed (salt {salt})",
        actions.prompt_hash
    );
    Ok(out)
}

/// An attestation of `token`'s record, signed with the attester's `key`
/// over (model id, prompt hash, seed, output hash).
pub fn attest_action(
    key: &PrivateKey,
    token: TokenId,
    model_id: &Hash32,
    prompt_hash: &Hash32,
    seed: u64,
    output_hash: &Hash32,
) -> NftAction {
    NftAction::Attest {
        token,
        attester: address_of(key),
        model_id: *model_id,
        prompt_hash: *prompt_hash,
        seed,
        output_hash: *output_hash,
        signature: sign_attestation(key, model_id, prompt_hash, seed, output_hash),
    }
}

/// Sends an nft action and adds the ids it created.
async fn send_nft(
    ctx: &Ctx<'_>,
    key: &PrivateKey,
    action: NftAction,
    send: &SendOpts,
) -> anyhow::Result<Output> {
    let mut out = send_action(ctx.client, key, Action::Nft(Box::new(action)), send).await?;
    annotate(&mut out);
    Ok(out)
}

/// Adds `collection_id`, `token_id`, `offer_id`, `licence_id` (and summary
/// lines) for the events of the receipt in `out`.
fn annotate(out: &mut Output) {
    let Some(receipt) = super::receipt_of(out) else {
        return;
    };
    for event in &receipt.events {
        let Event::Nft(event) = event else {
            continue;
        };
        match event {
            NftEvent::CollectionCreated { collection, .. } => {
                out.json["collection_id"] = json!(collection);
                let _ = writeln!(out.text, "collection  {collection}");
            }
            NftEvent::Minted {
                token,
                edition,
                content_hash,
                ..
            } => {
                out.json["token_id"] = json!(token);
                let _ = writeln!(
                    out.text,
                    "token       {token} (edition {edition}, content {content_hash})"
                );
            }
            NftEvent::OfferMade { offer, .. } => {
                out.json["offer_id"] = json!(offer);
                let _ = writeln!(out.text, "offer       {offer}");
            }
            NftEvent::LicenceIssued { licence, fee, .. } => {
                out.json["licence_id"] = json!(licence);
                let _ = writeln!(out.text, "licence     {licence} (fee {fee})");
            }
            NftEvent::Sold {
                price,
                royalty,
                fee,
                proceeds,
                ..
            } => {
                let _ = writeln!(
                    out.text,
                    "sold        price {price} = seller {proceeds} + royalty {royalty} + fee {fee}"
                );
            }
            NftEvent::RoyaltyPaid {
                recipient, amount, ..
            } => {
                let _ = writeln!(out.text, "royalty     {amount} to {recipient}");
            }
            NftEvent::Flagged { attester, .. } => {
                let _ = writeln!(
                    out.text,
                    "FLAGGED     conflicting attestation by {attester}"
                );
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        cmd: NftCommand,
    }

    fn parse(args: &str) -> Result<NftCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("nft").chain(args.split_whitespace())).map(|c| c.cmd)
    }

    #[test]
    fn commands_parse_as_documented() {
        for ok in [
            "create-collection --from alice --name Songs --symbol SONG --royalty-bps 1000 --split alice:2 --split bob:1 --policy free --max-editions 25",
            "create-collection --from alice --name Songs --symbol SONG --royalty-bps 1000 --split alice:1 --policy min-fee --min-fee 5 --licence-share-ppm 50000",
            "mint --from alice --collection 7 --file song.wav --metadata meta.json --provenance prov.json",
            "derive --from bob --collection 8 --file remix.wav --parent 5:9",
            "show 5",
            "history 5",
            "transfer --from alice --token 5 --to bob",
            "list --from alice --token 5 --price 100 --asset USDC",
            "buy --from bob --token 5",
            "offer --from bob --token 5 --amount 10",
            "accept --from alice --offer 3",
            "auction --from alice --token 5 --reserve 10 --blocks 50",
            "bid --from bob --token 5 --amount 20",
            "settle --from carol --token 5",
            "cancel --from alice --token 5",
            "cancel --from bob --offer 3",
            "license --from bob --token 5",
            "attester register --from admin --model lakh-demo-synth --attester operator",
            "attest --from operator --token 5",
            "demo-track --out /tmp/x.wav",
        ] {
            parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        assert!(parse("cancel --from alice").is_err());
        assert!(parse("create-collection --from a --name n --symbol S --royalty-bps 1").is_err());
    }

    #[test]
    fn the_demo_track_is_a_deterministic_wav() {
        let a = synth_wav(1, 2);
        assert_eq!(&a[..4], b"RIFF");
        assert_eq!(&a[8..16], b"WAVEfmt ");
        assert_eq!(a.len(), 44 + 2 * 2 * SYNTH_RATE as usize);
        assert_eq!(a, synth_wav(1, 2));
        assert_ne!(a, synth_wav(2, 2));
    }

    #[test]
    fn model_ids_are_hex_or_hashed_text() {
        let hex = "11".repeat(32);
        assert_eq!(model_id(&hex), Hash32([0x11; 32]));
        assert_eq!(model_id("demo"), Hash32::sha256(b"demo"));
    }
}
