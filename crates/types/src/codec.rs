//! Helpers that give module types a canonical encoding without hand-written
//! codec impls: bounded containers whose limits live in the type, and two
//! macros that declare a struct or a tagged enum together with its
//! `Write`/`EncodeSize`/`Read` impls.
//!
//! Every field of a type declared with [`codec_struct!`] or [`tagged_enum!`]
//! must decode with a default config (`Cfg: Default`), which is why
//! collections and strings use [`BoundedVec`] and [`Text`] here.

use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error as CodecError, RangeCfg, Read, Write};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::Deref;

/// A vector of at most `MAX` items; decoding refuses longer ones.
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub struct BoundedVec<T, const MAX: usize>(Vec<T>);

impl<T, const MAX: usize> BoundedVec<T, MAX> {
    /// `None` when `items` holds more than `MAX` items.
    pub fn new(items: Vec<T>) -> Option<Self> {
        (items.len() <= MAX).then_some(BoundedVec(items))
    }
    /// No items.
    pub fn empty() -> Self {
        BoundedVec(Vec::new())
    }
    /// Appends `item`; gives it back when the vector is full.
    pub fn try_push(&mut self, item: T) -> Result<(), T> {
        if self.0.len() >= MAX {
            return Err(item);
        }
        self.0.push(item);
        Ok(())
    }
    /// Mutable access that cannot take the length past `MAX`.
    pub fn as_mut_vec_within_bound(&mut self) -> BoundedVecMut<'_, T, MAX> {
        BoundedVecMut(&mut self.0)
    }
    /// The items as a plain vector.
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

/// Mutable access that can only shrink or reorder (never grow past `MAX`).
pub struct BoundedVecMut<'a, T, const MAX: usize>(&'a mut Vec<T>);

impl<T, const MAX: usize> BoundedVecMut<'_, T, MAX> {
    /// Removes and returns the item at `index`; panics when out of range, as `Vec::remove`.
    pub fn remove(&mut self, index: usize) -> T {
        self.0.remove(index)
    }
    /// Keeps only the items for which `f` is true, in order.
    pub fn retain(&mut self, f: impl FnMut(&T) -> bool) {
        self.0.retain(f)
    }
    /// The item at `index`, if any.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.0.get_mut(index)
    }
    /// Iterates over the items, mutably.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.0.iter_mut()
    }
    /// Inserts `item` at `index`; gives it back when the vector is full.
    pub fn insert(&mut self, index: usize, item: T) -> Result<(), T> {
        if self.0.len() >= MAX {
            return Err(item);
        }
        self.0.insert(index, item);
        Ok(())
    }
    /// Sorts the items by `f` (stable).
    pub fn sort_by_key<K: Ord>(&mut self, f: impl FnMut(&T) -> K) {
        self.0.sort_by_key(f)
    }
}

impl<T, const MAX: usize> Deref for BoundedVec<T, MAX> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: Write, const MAX: usize> Write for BoundedVec<T, MAX> {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf);
    }
}
impl<T: EncodeSize, const MAX: usize> EncodeSize for BoundedVec<T, MAX> {
    fn encode_size(&self) -> usize {
        self.0.encode_size()
    }
}
impl<T: Read, const MAX: usize> Read for BoundedVec<T, MAX>
where
    T::Cfg: Default,
{
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let cfg = (RangeCfg::new(..=MAX), T::Cfg::default());
        Ok(BoundedVec(Vec::<T>::read_cfg(buf, &cfg)?))
    }
}

impl<T: Serialize, const MAX: usize> Serialize for BoundedVec<T, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}
impl<'de, T: Deserialize<'de>, const MAX: usize> Deserialize<'de> for BoundedVec<T, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = Vec::<T>::deserialize(d)?;
        let len = items.len();
        BoundedVec::new(items)
            .ok_or_else(|| serde::de::Error::custom(format!("{len} items, the limit is {MAX}")))
    }
}

/// UTF-8 text of at most `MAX` bytes.
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    /// `None` when `s` is longer than `MAX` bytes.
    pub fn new(s: impl Into<String>) -> Option<Self> {
        let s = s.into();
        (s.len() <= MAX).then_some(Text(s))
    }
    /// Cuts `s` to at most `MAX` bytes on a character boundary.
    pub fn clipped(s: &str) -> Self {
        let mut end = s.len().min(MAX);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        Text(s[..end].to_string())
    }
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> std::fmt::Display for Text<MAX> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize> Write for Text<MAX> {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.len().write(buf);
        buf.put_slice(self.0.as_bytes());
    }
}
impl<const MAX: usize> EncodeSize for Text<MAX> {
    fn encode_size(&self) -> usize {
        self.0.len().encode_size() + self.0.len()
    }
}
impl<const MAX: usize> Read for Text<MAX> {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let len = usize::read_cfg(buf, &RangeCfg::new(..=MAX))?;
        if buf.remaining() < len {
            return Err(CodecError::EndOfBuffer);
        }
        let mut bytes = vec![0u8; len];
        buf.copy_to_slice(&mut bytes);
        String::from_utf8(bytes)
            .map(Text)
            .map_err(|_| CodecError::Invalid("text", "not utf-8"))
    }
}

impl<const MAX: usize> Serialize for Text<MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}
impl<'de, const MAX: usize> Deserialize<'de> for Text<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let len = s.len();
        Text::new(s).ok_or_else(|| {
            serde::de::Error::custom(format!("text of {len} bytes, the limit is {MAX}"))
        })
    }
}

/// Declares a struct and its canonical encoding: the fields in order.
///
/// ```ignore
/// codec_struct! {
///     #[derive(Clone, Debug, PartialEq, Eq)]
///     pub struct Pool { pub reserve_a: u128, pub reserve_b: u128 }
/// }
/// ```
#[macro_export]
macro_rules! codec_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$fmeta])* $fvis $field: $ty ),*
        }
        impl $crate::__private::commonware_codec::Write for $name {
            fn write(&self, buf: &mut impl $crate::__private::bytes::BufMut) {
                $( $crate::__private::commonware_codec::Write::write(&self.$field, buf); )*
            }
        }
        impl $crate::__private::commonware_codec::EncodeSize for $name {
            fn encode_size(&self) -> usize {
                0 $( + $crate::__private::commonware_codec::EncodeSize::encode_size(&self.$field) )*
            }
        }
        impl $crate::__private::commonware_codec::Read for $name {
            type Cfg = ();
            #[allow(unused_variables)]
            fn read_cfg(
                buf: &mut impl $crate::__private::commonware_codec::Buf,
                _: &(),
            ) -> ::core::result::Result<Self, $crate::__private::commonware_codec::Error> {
                Ok($name {
                    $( $field: <$ty as $crate::__private::commonware_codec::Read>::read_cfg(
                        buf,
                        &::core::default::Default::default(),
                    )?, )*
                })
            }
        }
    };
}

/// Declares an enum whose variants all have named fields (possibly none:
/// `Variant {}`), each with an explicit one-byte tag, and its canonical
/// encoding: the tag, then the fields in order. Unknown tags are refused.
///
/// ```ignore
/// tagged_enum! {
///     #[derive(Clone, Debug, PartialEq, Eq)]
///     pub enum DexAction {
///         0x01 => CreatePool { asset_a: AssetId, asset_b: AssetId },
///         0x02 => Sync {},
///     }
/// }
/// ```
#[macro_export]
macro_rules! tagged_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $tag:literal => $variant:ident {
                    $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)?
                }
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant { $( $(#[$fmeta])* $field: $ty ),* }
            ),*
        }
        impl $name {
            /// The variant's name in snake case-free form, for logs.
            #[allow(dead_code)]
            pub fn variant_name(&self) -> &'static str {
                match self {
                    $( $name::$variant { .. } => stringify!($variant), )*
                }
            }

            /// The accounts the variant's fields name (`Address` or
            /// `Option<Address>`), in field order.
            #[allow(dead_code)]
            pub fn addresses(&self) -> ::std::vec::Vec<$crate::Address> {
                #[allow(unused_mut)]
                let mut out = ::std::vec::Vec::new();
                match self {
                    $(
                        #[allow(unused_variables)]
                        $name::$variant { $( $field ),* } => {
                            $( $crate::__private::push_address($field, &mut out); )*
                        }
                    )*
                }
                out
            }
        }
        impl $crate::__private::commonware_codec::Write for $name {
            fn write(&self, buf: &mut impl $crate::__private::bytes::BufMut) {
                match self {
                    $(
                        #[allow(unused_variables)]
                        $name::$variant { $( $field ),* } => {
                            $crate::__private::bytes::BufMut::put_u8(buf, $tag);
                            $( $crate::__private::commonware_codec::Write::write($field, buf); )*
                        }
                    )*
                }
            }
        }
        impl $crate::__private::commonware_codec::EncodeSize for $name {
            fn encode_size(&self) -> usize {
                1 + match self {
                    $(
                        #[allow(unused_variables)]
                        $name::$variant { $( $field ),* } => {
                            0 $( + $crate::__private::commonware_codec::EncodeSize::encode_size($field) )*
                        }
                    )*
                }
            }
        }
        impl $crate::__private::commonware_codec::Read for $name {
            type Cfg = ();
            fn read_cfg(
                buf: &mut impl $crate::__private::commonware_codec::Buf,
                _: &(),
            ) -> ::core::result::Result<Self, $crate::__private::commonware_codec::Error> {
                let tag = <u8 as $crate::__private::commonware_codec::Read>::read_cfg(buf, &())?;
                Ok(match tag {
                    $(
                        $tag => $name::$variant {
                            $( $field: <$ty as $crate::__private::commonware_codec::Read>::read_cfg(
                                buf,
                                &::core::default::Default::default(),
                            )?, )*
                        },
                    )*
                    other => return Err($crate::__private::commonware_codec::Error::InvalidEnum(other)),
                })
            }
        }
    };
}

/// Lowercase hex of 32 bytes, written into `buf` on the caller's stack.
/// The finalized-block stream prints every transaction id of every block,
/// and `hex::encode` builds its `String` a character at a time: it showed
/// in the node's profile under load.
pub(crate) fn hex32_str<'a>(bytes: &[u8; 32], buf: &'a mut [u8; 64]) -> &'a str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, byte) in buf.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
    std::str::from_utf8(buf).expect("hex digits are ASCII")
}

/// The JSON (lowercase hex string; parsed through the type's `FromStr`) and
/// canonical codec (the 32 bytes as they are) of a 32-byte newtype.
macro_rules! bytes32_forms {
    ($name:ident) => {
        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut buf = [0u8; 64];
                s.serialize_str($crate::codec::hex32_str(&self.0, &mut buf))
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <String as ::serde::Deserialize>::deserialize(d)?
                    .parse()
                    .map_err(::serde::de::Error::custom)
            }
        }

        impl ::commonware_codec::Write for $name {
            fn write(&self, buf: &mut impl ::bytes::BufMut) {
                buf.put_slice(&self.0);
            }
        }

        impl ::commonware_codec::FixedSize for $name {
            const SIZE: usize = 32;
        }

        impl ::commonware_codec::Read for $name {
            type Cfg = ();
            fn read_cfg(
                buf: &mut impl ::bytes::Buf,
                _: &(),
            ) -> Result<Self, ::commonware_codec::Error> {
                if buf.remaining() < 32 {
                    return Err(::commonware_codec::Error::EndOfBuffer);
                }
                let mut out = [0u8; 32];
                buf.copy_to_slice(&mut out);
                Ok($name(out))
            }
        }
    };
}
pub(crate) use bytes32_forms;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, AssetId};
    use commonware_codec::{Decode, Encode};

    proptest::proptest! {
        #[test]
        fn hex32_writes_what_hex_encode_writes(bytes in proptest::array::uniform32(proptest::num::u8::ANY)) {
            let mut buf = [0u8; 64];
            proptest::prop_assert_eq!(hex32_str(&bytes, &mut buf), hex::encode(bytes));
            let json = serde_json::to_string(&crate::TxId(bytes)).expect("serializes");
            proptest::prop_assert_eq!(json, format!("\"{}\"", hex::encode(bytes)));
        }
    }

    crate::codec_struct! {
        #[derive(Clone, Debug, PartialEq, Eq)]
        struct Sample {
            owner: Address,
            amount: u128,
            assets: BoundedVec<AssetId, 3>,
            note: Text<8>,
            limit: Option<u64>,
        }
    }

    crate::tagged_enum! {
        #[derive(Clone, Debug, PartialEq, Eq)]
        enum SampleAction {
            0x01 => Put { key: u64, value: u128 },
            0x07 => Clear {},
        }
    }

    #[test]
    fn struct_and_enum_round_trip_and_refuse_bad_input() {
        let s = Sample {
            owner: Address([7; 32]),
            amount: u128::MAX,
            assets: BoundedVec::new(vec![AssetId(1), AssetId(2)]).unwrap(),
            note: Text::new("hi").unwrap(),
            limit: Some(9),
        };
        let bytes = s.encode();
        assert_eq!(bytes.len(), s.encode_size());
        assert_eq!(Sample::decode_cfg(bytes.clone(), &()).unwrap(), s);
        assert!(Sample::decode_cfg(bytes.slice(..bytes.len() - 1), &()).is_err());

        for a in [
            SampleAction::Put { key: 3, value: 4 },
            SampleAction::Clear {},
        ] {
            let bytes = a.encode();
            assert_eq!(bytes.len(), a.encode_size());
            assert_eq!(SampleAction::decode_cfg(bytes, &()).unwrap(), a);
        }
        assert!(matches!(
            SampleAction::decode_cfg(bytes::Bytes::from_static(&[0x02]), &()),
            Err(CodecError::InvalidEnum(2))
        ));
    }

    #[test]
    fn bounds_are_enforced_on_decode() {
        let long: Vec<AssetId> = (0..4).map(AssetId).collect();
        assert!(BoundedVec::<AssetId, 3>::new(long.clone()).is_none());
        let bytes = long.encode();
        assert!(BoundedVec::<AssetId, 3>::decode_cfg(bytes, &()).is_err());
        assert!(Text::<2>::new("abc").is_none());
        let bytes = Text::<8>::new("abc").unwrap().encode();
        assert!(Text::<2>::decode_cfg(bytes, &()).is_err());
        assert_eq!(Text::<4>::clipped("héllo").as_str(), "hél");
    }
}
