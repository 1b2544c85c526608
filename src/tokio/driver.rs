//! The tokio driver (placeholder).
