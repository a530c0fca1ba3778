//! `identity.v1.AdminService`: answers UNIMPLEMENTED until its use cases land.

use tonic::{Request, Response, Status};

use super::status_mapping::not_implemented;
use crate::proto;
use crate::proto::admin_service_server::AdminService as AdminServiceRpc;

/// Placeholder server for AdminService.
pub struct AdminHandler;

#[tonic::async_trait]
impl AdminServiceRpc for AdminHandler {
    async fn list_users(
        &self,
        _request: Request<proto::ListUsersRequest>,
    ) -> Result<Response<proto::ListUsersResponse>, Status> {
        Err(not_implemented("ListUsers"))
    }

    async fn get_user(
        &self,
        _request: Request<proto::GetUserRequest>,
    ) -> Result<Response<proto::GetUserResponse>, Status> {
        Err(not_implemented("GetUser"))
    }

    async fn update_user(
        &self,
        _request: Request<proto::UpdateUserRequest>,
    ) -> Result<Response<proto::UpdateUserResponse>, Status> {
        Err(not_implemented("UpdateUser"))
    }

    async fn delete_user(
        &self,
        _request: Request<proto::DeleteUserRequest>,
    ) -> Result<Response<proto::DeleteUserResponse>, Status> {
        Err(not_implemented("DeleteUser"))
    }

    async fn revoke_user_sessions(
        &self,
        _request: Request<proto::RevokeUserSessionsRequest>,
    ) -> Result<Response<proto::RevokeUserSessionsResponse>, Status> {
        Err(not_implemented("RevokeUserSessions"))
    }

    async fn list_audit_events(
        &self,
        _request: Request<proto::ListAuditEventsRequest>,
    ) -> Result<Response<proto::ListAuditEventsResponse>, Status> {
        Err(not_implemented("ListAuditEvents"))
    }
}
