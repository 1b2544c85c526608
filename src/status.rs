//! The result of feeding a decoder input that may be cut anywhere.

/// Whether a decoder had enough bytes.
///
/// Incomplete input is not an error: a decoder that returns
/// [`Status::Partial`] has consumed nothing and wants to be called again with
/// the same bytes plus more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Status<T> {
    /// The input held a complete item.
    Complete(T),
    /// More bytes are needed; nothing was consumed.
    Partial,
}

impl<T> Status<T> {
    /// `true` for [`Status::Complete`].
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }

    /// `true` for [`Status::Partial`].
    pub fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }

    /// The complete item, or `None` when more bytes are needed.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(value) => Some(value),
            Status::Partial => None,
        }
    }

    /// Maps the complete item, keeping `Partial` as it is.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Status<U> {
        match self {
            Status::Complete(value) => Status::Complete(f(value)),
            Status::Partial => Status::Partial,
        }
    }
}
