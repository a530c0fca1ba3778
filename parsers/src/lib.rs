//! Normalisation of outside input that more than the service needs: the migrations
//! re-normalise stored rows with the same code the service parses requests with, and the
//! fuzz targets build this crate alone instead of the whole service.
//!
//! Layer rule: std and the Unicode and address crates only; no I/O.

pub mod email;
