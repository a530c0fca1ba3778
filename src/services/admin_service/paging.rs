//! Keyset paging for the admin listings. A page is "the next N rows after this (time,
//! id)", not an OFFSET, so rows inserted or deleted between two requests never shift
//! other rows into or out of the next page. The position travels as an opaque page token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::InputError;

/// The page size when the caller asks for none (0 or less).
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// The largest page served, whatever the caller asks for.
pub const MAX_PAGE_SIZE: u64 = 200;

/// Which listing a page token belongs to: a token of one listing is refused by the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    Users,
    AuditEvents,
    /// A caller's own sessions (TokenService/ListSessions).
    Sessions,
    Groups,
}

impl Listing {
    // Versioned, so a later change of the token layout can refuse old tokens cleanly.
    fn tag(self) -> &'static str {
        match self {
            Self::Users => "u1",
            Self::AuditEvents => "a1",
            Self::Sessions => "s1",
            Self::Groups => "g1",
        }
    }
}

/// The sort key of the last row of a page, where the next page starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageCursor {
    listing: Listing,
    at: DateTime<Utc>,
    id: Uuid,
}

impl PageCursor {
    pub fn new(listing: Listing, at: DateTime<Utc>, id: Uuid) -> Self {
        Self { listing, at, id }
    }

    /// The keyset: sort time, then id.
    pub fn key(&self) -> (DateTime<Utc>, Uuid) {
        (self.at, self.id)
    }

    /// The page token handed to the caller. Seconds and nanoseconds separately: the
    /// cursor must reproduce the stored time exactly, or the row it names would be
    /// listed again (or skipped) on the next page.
    pub fn to_token(&self) -> String {
        let raw = format!(
            "{}:{}:{}:{}",
            self.listing.tag(),
            self.at.timestamp(),
            self.at.timestamp_subsec_nanos(),
            self.id.simple()
        );
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn from_token(listing: Listing, token: &str) -> Option<Self> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
        let mut parts = raw.split(':');
        let (tag, seconds, nanos, id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || tag != listing.tag() {
            return None;
        }
        let at = DateTime::from_timestamp(seconds.parse().ok()?, nanos.parse().ok()?)?;
        let id = Uuid::try_parse(id).ok()?;
        Some(Self { listing, at, id })
    }
}

/// Which page of a listing to serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    listing: Listing,
    size: u64,
    after: Option<PageCursor>,
}

impl PageRequest {
    /// Reads `page_size` and `page_token` as the proto defines them: a size of 0 or less
    /// is the default, a larger one than the maximum is capped; an empty token is the
    /// first page.
    ///
    /// # Errors
    /// `TokenMalformed`: a token this service did not issue for `listing`.
    pub fn parse(listing: Listing, page_size: i32, page_token: &str) -> Result<Self, InputError> {
        let token = page_token.trim();
        let after = if token.is_empty() {
            None
        } else {
            Some(PageCursor::from_token(listing, token).ok_or(InputError::TokenMalformed)?)
        };
        let size = u64::try_from(page_size)
            .ok()
            .filter(|size| *size > 0)
            .map_or(DEFAULT_PAGE_SIZE, |size| size.min(MAX_PAGE_SIZE));
        Ok(Self { listing, size, after })
    }

    /// The most rows a page holds.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The keyset the page starts after, if not the first page.
    pub fn after(&self) -> Option<(DateTime<Utc>, Uuid)> {
        self.after.as_ref().map(PageCursor::key)
    }

    /// How many rows to fetch: one more than a page, to learn whether another follows.
    pub fn fetch_limit(&self) -> u64 {
        self.size + 1
    }
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<PageCursor>,
}

impl<T> Page<T> {
    /// A page with nothing on it and nothing after it.
    pub fn empty() -> Self {
        Self {
            items: Vec::new(),
            next: None,
        }
    }

    /// A page of `rows`, fetched in listing order with [`PageRequest::fetch_limit`]: the
    /// extra row, if present, is dropped and only proves that a next page exists.
    ///
    /// # Errors
    /// The first error of `convert`.
    pub fn from_rows<R, E>(
        mut rows: Vec<R>,
        request: &PageRequest,
        key: impl Fn(&R) -> (DateTime<Utc>, Uuid),
        convert: impl FnMut(R) -> Result<T, E>,
    ) -> Result<Self, E> {
        let size = usize::try_from(request.size).unwrap_or(usize::MAX);
        let next = if rows.len() > size {
            rows.truncate(size);
            rows.last().map(|row| {
                let (at, id) = key(row);
                PageCursor::new(request.listing, at, id)
            })
        } else {
            None
        };
        let items = rows.into_iter().map(convert).collect::<Result<_, E>>()?;
        Ok(Self { items, next })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cursor(listing: Listing) -> PageCursor {
        let at = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        PageCursor::new(listing, at, Uuid::new_v4())
    }

    #[test]
    fn a_token_round_trips_to_the_exact_keyset() {
        let original = cursor(Listing::Users);
        let request = PageRequest::parse(Listing::Users, 10, &original.to_token()).unwrap();
        assert_eq!(request.after(), Some(original.key()));
    }

    #[test]
    fn tokens_not_issued_for_this_listing_are_malformed() {
        let other_listing = cursor(Listing::AuditEvents).to_token();
        let not_base64 = "not a token!".to_owned();
        let wrong_layout = URL_SAFE_NO_PAD.encode("u1:12:34");
        let bad_uuid = URL_SAFE_NO_PAD.encode("u1:12:34:zzz");
        let extra_part = URL_SAFE_NO_PAD.encode(format!("u1:1:2:{}:3", Uuid::new_v4().simple()));
        for token in [other_listing, not_base64, wrong_layout, bad_uuid, extra_part] {
            assert_eq!(
                PageRequest::parse(Listing::Users, 10, &token),
                Err(InputError::TokenMalformed),
                "{token}"
            );
        }
    }

    #[test]
    fn page_sizes_default_and_cap() {
        let size = |asked| PageRequest::parse(Listing::Users, asked, "").unwrap().size();
        assert_eq!(size(0), DEFAULT_PAGE_SIZE);
        assert_eq!(size(-5), DEFAULT_PAGE_SIZE);
        assert_eq!(size(7), 7);
        assert_eq!(size(10_000), MAX_PAGE_SIZE);
    }

    #[test]
    fn the_extra_row_only_announces_a_next_page() {
        let request = PageRequest::parse(Listing::Users, 2, "").unwrap();
        let at = DateTime::from_timestamp(1, 0).unwrap();
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        let page = Page::from_rows(ids.clone(), &request, |id| (at, *id), Ok::<_, ()>).unwrap();
        assert_eq!(page.items, ids[..2]);
        assert_eq!(page.next.map(|c| c.key()), Some((at, ids[1])));
        let last = Page::from_rows(ids[..2].to_vec(), &request, |id| (at, *id), Ok::<_, ()>).unwrap();
        assert_eq!(last.next, None);
    }
}
