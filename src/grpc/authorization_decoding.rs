//! Envoy's `CheckRequest` → what the check needs: the bearer token of the request being
//! authorized, and which `x-identity-*` headers its client sent (they must not reach
//! the upstream as if the service had set them).

use envoy_types::ext_authz::v3::pb::CheckRequest;

use super::authorization_encoding::IDENTITY_HEADER_PREFIX;
use super::bearer_authentication::parse_bearer_header;

/// The parts of an HTTP request that its authorization depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRequestToCheck {
    /// The token of `authorization: Bearer …`; `None` without one.
    pub bearer: Option<String>,
    /// Lower-cased names of the client's own `x-identity-*` headers.
    pub identity_headers: Vec<String>,
}

/// Reads the request's headers, from `headers` or, when Envoy sends raw headers
/// (`encode_raw_headers`), from `header_map`.
pub fn check(request: &CheckRequest) -> HttpRequestToCheck {
    let Some(http) = request
        .attributes
        .as_ref()
        .and_then(|attributes| attributes.request.as_ref())
        .and_then(|request| request.http.as_ref())
    else {
        return HttpRequestToCheck::default();
    };
    let raw = http.header_map.iter().flat_map(|map| &map.headers).map(|header| {
        let value = if header.raw_value.is_empty() {
            header.value.as_str()
        } else {
            std::str::from_utf8(&header.raw_value).unwrap_or_default()
        };
        (header.key.as_str(), value)
    });
    let headers = http
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .chain(raw);
    let mut checked = HttpRequestToCheck::default();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        if name == "authorization" && checked.bearer.is_none() {
            checked.bearer = parse_bearer_header(value).map(str::to_owned);
        } else if name.starts_with(IDENTITY_HEADER_PREFIX) && !checked.identity_headers.contains(&name) {
            checked.identity_headers.push(name);
        }
    }
    checked
}

#[cfg(test)]
mod tests {
    use envoy_types::ext_authz::v3::pb::HeaderValue;
    use envoy_types::pb::envoy::config::core::v3::HeaderMap;
    use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
    use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};

    use super::*;

    fn request(http: HttpRequest) -> CheckRequest {
        CheckRequest {
            attributes: Some(AttributeContext {
                request: Some(Request {
                    http: Some(http),
                    ..Request::default()
                }),
                ..AttributeContext::default()
            }),
        }
    }

    #[test]
    fn reads_the_bearer_and_the_clients_identity_headers_from_either_header_form() {
        let headers = [
            ("authorization", "Bearer abc.def"),
            ("x-identity-user-id", "forged"),
            ("x-identity-role", "admin"),
            ("x-other", "kept"),
        ];
        let as_map = request(HttpRequest {
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            ..HttpRequest::default()
        });
        let as_raw = request(HttpRequest {
            header_map: Some(HeaderMap {
                headers: headers
                    .iter()
                    .map(|(name, value)| HeaderValue {
                        key: (*name).to_owned(),
                        raw_value: value.as_bytes().to_vec(),
                        ..HeaderValue::default()
                    })
                    .collect(),
            }),
            ..HttpRequest::default()
        });
        for (form, check_request) in [("headers", as_map), ("header_map", as_raw)] {
            let mut checked = check(&check_request);
            checked.identity_headers.sort();
            assert_eq!(checked.bearer.as_deref(), Some("abc.def"), "{form}");
            assert_eq!(
                checked.identity_headers,
                ["x-identity-role", "x-identity-user-id"],
                "{form}"
            );
        }
    }

    #[test]
    fn no_bearer_in_another_scheme_or_an_empty_request() {
        let basic = request(HttpRequest {
            headers: [("authorization".to_owned(), "Basic dXNlcg==".to_owned())].into(),
            ..HttpRequest::default()
        });
        assert_eq!(check(&basic).bearer, None);
        assert_eq!(check(&CheckRequest::default()), HttpRequestToCheck::default());
    }
}
