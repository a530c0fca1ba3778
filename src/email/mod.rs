//! Email: queued in the caller's transaction (`outbox`), delivered later by the
//! background `outbox_sender`, rendered by `email_templates`, sent by `mail_delivery`.
//! Same layer as the services: no tonic.

pub mod email_templates;
pub mod mail_delivery;
pub mod outbox;
pub mod outbox_sender;

pub use outbox::{OutboxEmail, OutboxWaker};
pub use outbox_sender::OutboxSender;
