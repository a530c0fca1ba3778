//! `identity.v1.EventService`: authenticate a staff member, decode where to start, stream
//! the feed's events as they come.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::bearer_authentication::{BearerAuthenticator, OperatorNeed};
use super::{request_decoding, response_encoding};
use crate::domain::ServiceScope;
use crate::proto;
use crate::proto::event_service_server::EventService as EventRpc;
use crate::services::event_feed::EventFeed;

/// Serves EventService over the event feed.
pub struct EventHandler {
    feed: EventFeed,
    bearer: BearerAuthenticator,
}

impl EventHandler {
    pub fn new(feed: EventFeed, bearer: BearerAuthenticator) -> Self {
        Self { feed, bearer }
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<proto::Event, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl EventRpc for EventHandler {
    type WatchEventsStream = EventStream;

    #[tracing::instrument(name = "identity.v1.EventService/WatchEvents", skip_all, fields(user_id))]
    async fn watch_events(
        &self,
        request: Request<proto::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        self.bearer
            .operator(&request, OperatorNeed::Scope(ServiceScope::EventsWatch))
            .await?;
        let (start, kinds) = request_decoding::watch_events(request.get_ref())?;
        let events = self.feed.watch(start, kinds).await?;
        let stream = events.map(|event| {
            event
                .map(|event| response_encoding::event(&event))
                .map_err(Status::from)
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
