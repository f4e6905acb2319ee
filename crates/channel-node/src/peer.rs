//! Frames on a TCP stream and the handshake that authenticates both ends.
//!
//! Each side sends `Hello` (its key, where it listens, a fresh random
//! challenge), then `Proof`: its signature under
//! [`HELLO_NAMESPACE`](crate::wire::HELLO_NAMESPACE) over the other side's
//! challenge and both keys. A dialer also checks the key it meant to reach.

use crate::NodeError;
use crate::wire::{HELLO_NAMESPACE, MAX_FRAME_BYTES, Msg, codes, hello_message, sign, verify};
use lakh_types::codec::Text;
use lakh_types::modules::shielded::FixedBytes;
use lakh_types::{Address, PrivateKey};
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// How long a handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Read buffer of a connection: many small frames arrive per read.
const READ_BUFFER: usize = 256 * 1024;

/// Why a frame could not be read.
#[derive(Debug)]
pub enum FrameError {
    /// The connection ended or failed.
    Io(std::io::Error),
    /// A frame announced above [`MAX_FRAME_BYTES`].
    Oversize(usize),
    /// A frame that is not a message.
    Malformed(String),
}

impl FrameError {
    /// The refusal to send before closing, if any.
    pub fn refusal(&self) -> Option<Msg> {
        let zero = FixedBytes([0; 32]);
        match self {
            FrameError::Io(_) => None,
            FrameError::Oversize(n) => Some(Msg::refuse(
                zero,
                0,
                codes::OVERSIZE,
                &format!("frame of {n} bytes; the limit is {MAX_FRAME_BYTES}"),
            )),
            FrameError::Malformed(e) => Some(Msg::refuse(zero, 0, codes::MALFORMED, e)),
        }
    }
}

/// Reads one frame, waiting for it.
pub async fn read_frame<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<Msg, FrameError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await.map_err(FrameError::Io)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(FrameError::Oversize(len));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await.map_err(FrameError::Io)?;
    Msg::decode_body(&body).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// A frame already in `r`'s buffer, without waiting (`None`: no whole frame buffered).
pub fn buffered_frame(r: &mut BufReader<OwnedReadHalf>) -> Option<Result<Msg, FrameError>> {
    let buf = r.buffer();
    if buf.len() < 4 {
        return None;
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > MAX_FRAME_BYTES {
        return Some(Err(FrameError::Oversize(len)));
    }
    if buf.len() < 4 + len {
        return None;
    }
    let msg = Msg::decode_body(&buf[4..4 + len]).map_err(|e| FrameError::Malformed(e.to_string()));
    std::pin::Pin::new(&mut *r).consume(4 + len);
    Some(msg)
}

/// An authenticated connection, split for its reader and writer tasks.
pub struct Authenticated {
    pub peer: Address,
    /// Where the peer says it listens.
    pub peer_listen: String,
    pub reader: BufReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
}

/// Runs the handshake on `stream` as `key`, announcing `listen`; with
/// `expected`, the peer must prove that key.
pub async fn handshake(
    stream: TcpStream,
    key: &PrivateKey,
    listen: &str,
    expected: Option<Address>,
) -> Result<Authenticated, NodeError> {
    tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        handshake_inner(stream, key, listen, expected),
    )
    .await
    .map_err(|_| NodeError::new(codes::HANDSHAKE, "the handshake timed out"))?
}

async fn handshake_inner(
    stream: TcpStream,
    key: &PrivateKey,
    listen: &str,
    expected: Option<Address>,
) -> Result<Authenticated, NodeError> {
    use commonware_cryptography::Signer;
    let io = |e: std::io::Error| NodeError::new("unreachable", format!("connection: {e}"));
    let frame = |e: FrameError| match e {
        FrameError::Io(e) => NodeError::new("unreachable", format!("connection: {e}")),
        FrameError::Oversize(n) => NodeError::new(codes::OVERSIZE, format!("frame of {n} bytes")),
        FrameError::Malformed(m) => NodeError::new(codes::MALFORMED, m),
    };
    let _ = stream.set_nodelay(true);
    let me = Address::from(&key.public_key());
    let (r, mut writer) = stream.into_split();
    let mut reader = BufReader::with_capacity(READ_BUFFER, r);
    let mut challenge = [0u8; 32];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut challenge);
    let challenge = FixedBytes(challenge);
    let hello = Msg::Hello {
        key: me,
        listen: Text::clipped(listen),
        challenge,
    };
    writer.write_all(&hello.frame()).await.map_err(io)?;
    let (peer, peer_listen, their_challenge) = match read_frame(&mut reader).await.map_err(frame)? {
        Msg::Hello {
            key,
            listen,
            challenge,
        } => (key, listen.as_str().to_string(), challenge),
        other => {
            return Err(NodeError::new(
                codes::HANDSHAKE,
                format!("expected Hello, got {}", other.variant_name()),
            ));
        }
    };
    if let Some(want) = expected
        && want != peer
    {
        let reason = format!("this node is {peer}, not {want}");
        let _ = writer
            .write_all(&Msg::refuse(FixedBytes([0; 32]), 0, codes::HANDSHAKE, &reason).frame())
            .await;
        return Err(NodeError::new(codes::HANDSHAKE, reason));
    }
    let proof = Msg::Proof {
        signature: sign(
            key,
            HELLO_NAMESPACE,
            &hello_message(&their_challenge, &me, &peer),
        ),
    };
    writer.write_all(&proof.frame()).await.map_err(io)?;
    match read_frame(&mut reader).await.map_err(frame)? {
        Msg::Proof { signature }
            if verify(
                &peer,
                HELLO_NAMESPACE,
                &hello_message(&challenge, &peer, &me),
                &signature,
            ) => {}
        Msg::Proof { .. } => {
            let reason = format!("{peer} did not prove its key");
            let _ = writer
                .write_all(
                    &Msg::refuse(FixedBytes([0; 32]), 0, codes::BAD_SIGNATURE, &reason).frame(),
                )
                .await;
            return Err(NodeError::new(codes::BAD_SIGNATURE, reason));
        }
        Msg::Refuse { code, reason, .. } => {
            return Err(NodeError::new(code.as_str(), reason.as_str()));
        }
        other => {
            return Err(NodeError::new(
                codes::HANDSHAKE,
                format!("expected Proof, got {}", other.variant_name()),
            ));
        }
    }
    Ok(Authenticated {
        peer,
        peer_listen,
        reader,
        writer,
    })
}
