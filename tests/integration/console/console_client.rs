//! A plain HTTP/1 client for the console with a one-origin cookie jar; it never follows
//! redirects, so tests see each answer as the server gave it.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, header};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// One answer, read whole.
pub struct ConsoleResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl ConsoleResponse {
    /// The `Location` of a redirect.
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    /// The `Set-Cookie` header that sets or clears `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The value of the first hidden `csrf_token` field on the page.
    pub fn csrf_token(&self) -> String {
        let marker = r#"name="csrf_token" value=""#;
        let start = self.body.find(marker).expect("a form with a CSRF token") + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }
}

/// A browser-like client of one console.
pub struct ConsoleClient {
    base: String,
    client: Client<HttpConnector, Body>,
    pub cookies: HashMap<String, String>,
    /// Sent on every request, as a proxy in front would add them.
    pub headers: Vec<(&'static str, &'static str)>,
}

impl ConsoleClient {
    pub fn new(base: String) -> Self {
        Self {
            base,
            client: Client::builder(TokioExecutor::new()).build_http(),
            cookies: HashMap::new(),
            headers: Vec::new(),
        }
    }

    pub async fn get(&mut self, path: &str) -> ConsoleResponse {
        self.send(Method::GET, path, Body::empty(), None).await
    }

    /// POSTs a URL-encoded form.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> ConsoleResponse {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let content_type = Some("application/x-www-form-urlencoded");
        self.send(Method::POST, path, Body::from(body), content_type)
            .await
    }

    /// The sign-in form, then its submission with the form's CSRF token.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> ConsoleResponse {
        let form = self.get("/sign-in").await;
        let token = form.csrf_token();
        let fields = [("email", email), ("password", password), ("csrf_token", &token)];
        self.post("/sign-in", &fields).await
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Body,
        content_type: Option<&str>,
    ) -> ConsoleResponse {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(header::USER_AGENT, "console-test-client");
        for (name, value) in &self.headers {
            request = request.header(*name, *value);
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        if !self.cookies.is_empty() {
            let cookie: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header(header::COOKIE, cookie.join("; "));
        }
        let response = self.client.request(request.body(body).unwrap()).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        self.remember_cookies(&headers);
        ConsoleResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    fn remember_cookies(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(header::SET_COOKIE) {
            let value = value.to_str().unwrap();
            let pair = value.split(';').next().unwrap();
            let (name, content) = pair.split_once('=').unwrap();
            if value.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), content.to_owned());
            }
        }
    }
}
