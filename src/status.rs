//! The result of feeding a decoder input that may be cut anywhere.

#[allow(unused_imports)]
use crate::prelude::*;
/// Whether a decoder had enough bytes.
///
/// Incomplete input is not an error: a decoder that returns
/// [`Parsed::Partial`] has consumed nothing and wants to be called again with
/// the same bytes plus more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Parsed<T> {
    /// The input held a complete item.
    Complete(T),
    /// More bytes are needed; nothing was consumed.
    Partial,
}

impl<T> Parsed<T> {
    /// `true` for [`Parsed::Complete`].
    pub fn is_complete(&self) -> bool {
        matches!(self, Parsed::Complete(_))
    }

    /// `true` for [`Parsed::Partial`].
    pub fn is_partial(&self) -> bool {
        matches!(self, Parsed::Partial)
    }

    /// The complete item, or `None` when more bytes are needed.
    pub fn complete(self) -> Option<T> {
        match self {
            Parsed::Complete(value) => Some(value),
            Parsed::Partial => None,
        }
    }

    /// Maps the complete item, keeping `Partial` as it is.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        match self {
            Parsed::Complete(value) => Parsed::Complete(f(value)),
            Parsed::Partial => Parsed::Partial,
        }
    }
}
