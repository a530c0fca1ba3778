//! `identity.v1.AdminService`: authenticate, require staff, decode → service → encode.
//! The staff check comes before decoding, so a non-staff caller learns nothing about
//! what the RPCs would accept.

use tonic::{Request, Response, Status};

use uuid::Uuid;

use super::bearer_authentication::{BearerAuthenticator, OperatorNeed};
use super::request_decoding::FieldViolations;
use super::{admin_request_decoding, request_context, response_encoding};
use crate::domain::ServiceScope;
use crate::proto;
use crate::proto::admin_service_server::AdminService as AdminRpc;
use crate::services::admin_service::AccessChange;
use crate::services::{AdminService, Operator};

/// Serves AdminService over the admin use cases.
pub struct AdminHandler {
    admin: AdminService,
    bearer: BearerAuthenticator,
}

impl AdminHandler {
    pub fn new(admin: AdminService, bearer: BearerAuthenticator) -> Self {
        Self { admin, bearer }
    }

    /// The caller, if a staff member with a valid bearer token or a service token with
    /// what `need` asks.
    async fn operator<T>(&self, request: &Request<T>, need: OperatorNeed) -> Result<Operator, Status> {
        self.bearer.operator(request, need).await
    }

    /// The four RPCs that change one account's access share everything but decoding; the
    /// staff check still comes before the decoded request is looked at.
    async fn change_user_access<T>(
        &self,
        request: &Request<T>,
        decoded: Result<(Option<Uuid>, AccessChange), FieldViolations>,
    ) -> Result<proto::User, Status> {
        let operator = self.operator(request, OperatorNeed::Person).await?;
        let client = request_context::client_info(request);
        let (user_id, change) = decoded?;
        let user = self
            .admin
            .change_user_access(&operator, user_id, change, &client)
            .await?;
        Ok(response_encoding::user(&user))
    }
}

#[tonic::async_trait]
impl AdminRpc for AdminHandler {
    #[tracing::instrument(name = "identity.v1.AdminService/ListUsers", skip_all, fields(user_id))]
    async fn list_users(
        &self,
        request: Request<proto::ListUsersRequest>,
    ) -> Result<Response<proto::ListUsersResponse>, Status> {
        let operator = self
            .operator(&request, OperatorNeed::Scope(ServiceScope::UsersRead))
            .await?;
        let query = admin_request_decoding::list_users(request.get_ref())?;
        let page = self.admin.list_users(&operator, query).await?;
        Ok(Response::new(response_encoding::users_page(&page)))
    }

    #[tracing::instrument(name = "identity.v1.AdminService/GetUser", skip_all, fields(user_id))]
    async fn get_user(
        &self,
        request: Request<proto::GetUserRequest>,
    ) -> Result<Response<proto::GetUserResponse>, Status> {
        let operator = self
            .operator(&request, OperatorNeed::Scope(ServiceScope::UsersRead))
            .await?;
        let lookup = admin_request_decoding::get_user(request.into_inner())?;
        let user = self.admin.get_user(&operator, lookup).await?;
        Ok(Response::new(proto::GetUserResponse {
            user: Some(response_encoding::user(&user)),
        }))
    }

    #[tracing::instrument(name = "identity.v1.AdminService/UpdateUser", skip_all, fields(user_id))]
    async fn update_user(
        &self,
        request: Request<proto::UpdateUserRequest>,
    ) -> Result<Response<proto::UpdateUserResponse>, Status> {
        let operator = self
            .operator(&request, OperatorNeed::Scope(ServiceScope::UsersWrite))
            .await?;
        let client = request_context::client_info(&request);
        let command = admin_request_decoding::update_user(request.get_ref())?;
        let user = self.admin.update_user(&operator, command, &client).await?;
        Ok(Response::new(proto::UpdateUserResponse {
            user: Some(response_encoding::user(&user)),
        }))
    }

    #[tracing::instrument(name = "identity.v1.AdminService/CreateUser", skip_all, fields(user_id))]
    async fn create_user(
        &self,
        request: Request<proto::CreateUserRequest>,
    ) -> Result<Response<proto::CreateUserResponse>, Status> {
        let operator = self
            .operator(&request, OperatorNeed::Scope(ServiceScope::UsersWrite))
            .await?;
        let client = request_context::client_info(&request);
        let command = admin_request_decoding::create_user(request.get_ref())?;
        let user = self.admin.create_user(&operator, command, &client).await?;
        Ok(Response::new(proto::CreateUserResponse {
            user: Some(response_encoding::user(&user)),
        }))
    }

    #[tracing::instrument(
        name = "identity.v1.AdminService/SendPasswordReset",
        skip_all,
        fields(user_id)
    )]
    async fn send_password_reset(
        &self,
        request: Request<proto::SendPasswordResetRequest>,
    ) -> Result<Response<proto::SendPasswordResetResponse>, Status> {
        let operator = self
            .operator(&request, OperatorNeed::Scope(ServiceScope::UsersWrite))
            .await?;
        let client = request_context::client_info(&request);
        let user_id = admin_request_decoding::account_id("user_id", &request.get_ref().user_id)?;
        self.admin
            .send_password_reset(&operator, user_id, &client)
            .await?;
        Ok(Response::new(proto::SendPasswordResetResponse {}))
    }

    #[tracing::instrument(name = "identity.v1.AdminService/DeleteUser", skip_all, fields(user_id))]
    async fn delete_user(
        &self,
        request: Request<proto::DeleteUserRequest>,
    ) -> Result<Response<proto::DeleteUserResponse>, Status> {
        let operator = self
            .operator(&request, OperatorNeed::Scope(ServiceScope::UsersWrite))
            .await?;
        let client = request_context::client_info(&request);
        let id = admin_request_decoding::account_id("id", &request.get_ref().id)?;
        self.admin.delete_user(&operator, id, &client).await?;
        Ok(Response::new(proto::DeleteUserResponse {}))
    }

    #[tracing::instrument(
        name = "identity.v1.AdminService/RevokeUserSessions",
        skip_all,
        fields(user_id)
    )]
    async fn revoke_user_sessions(
        &self,
        request: Request<proto::RevokeUserSessionsRequest>,
    ) -> Result<Response<proto::RevokeUserSessionsResponse>, Status> {
        let operator = self
            .operator(&request, OperatorNeed::Scope(ServiceScope::UsersWrite))
            .await?;
        let client = request_context::client_info(&request);
        let user_id = admin_request_decoding::account_id("user_id", &request.get_ref().user_id)?;
        let revoked = self
            .admin
            .revoke_user_sessions(&operator, user_id, &client)
            .await?;
        let revoked_sessions = u32::try_from(revoked).unwrap_or(u32::MAX);
        Ok(Response::new(proto::RevokeUserSessionsResponse {
            revoked_sessions,
        }))
    }

    #[tracing::instrument(name = "identity.v1.AdminService/ListAuditEvents", skip_all, fields(user_id))]
    async fn list_audit_events(
        &self,
        request: Request<proto::ListAuditEventsRequest>,
    ) -> Result<Response<proto::ListAuditEventsResponse>, Status> {
        let operator = self.operator(&request, OperatorNeed::Person).await?;
        let query = admin_request_decoding::list_audit_events(request.get_ref())?;
        let page = self.admin.list_audit_events(&operator, query).await?;
        Ok(Response::new(response_encoding::audit_events_page(&page)))
    }
    #[tracing::instrument(name = "identity.v1.AdminService/CreateGroup", skip_all, fields(user_id))]
    async fn create_group(
        &self,
        request: Request<proto::CreateGroupRequest>,
    ) -> Result<Response<proto::CreateGroupResponse>, Status> {
        let operator = self.operator(&request, OperatorNeed::Person).await?;
        let client = request_context::client_info(&request);
        let command = admin_request_decoding::create_group(request.get_ref())?;
        let group = self.admin.create_group(&operator, command, &client).await?;
        Ok(Response::new(proto::CreateGroupResponse {
            group: Some(response_encoding::group(&group)),
        }))
    }

    #[tracing::instrument(name = "identity.v1.AdminService/GetGroup", skip_all, fields(user_id))]
    async fn get_group(
        &self,
        request: Request<proto::GetGroupRequest>,
    ) -> Result<Response<proto::GetGroupResponse>, Status> {
        let operator = self.operator(&request, OperatorNeed::Person).await?;
        let name = admin_request_decoding::group_name("name", &request.get_ref().name)?;
        let group = self.admin.get_group(&operator, &name).await?;
        Ok(Response::new(proto::GetGroupResponse {
            group: Some(response_encoding::group(&group)),
        }))
    }

    #[tracing::instrument(name = "identity.v1.AdminService/ListGroups", skip_all, fields(user_id))]
    async fn list_groups(
        &self,
        request: Request<proto::ListGroupsRequest>,
    ) -> Result<Response<proto::ListGroupsResponse>, Status> {
        let operator = self.operator(&request, OperatorNeed::Person).await?;
        let page = admin_request_decoding::list_groups(request.get_ref())?;
        let groups = self.admin.list_groups(&operator, page).await?;
        Ok(Response::new(response_encoding::groups_page(&groups)))
    }

    #[tracing::instrument(name = "identity.v1.AdminService/UpdateGroup", skip_all, fields(user_id))]
    async fn update_group(
        &self,
        request: Request<proto::UpdateGroupRequest>,
    ) -> Result<Response<proto::UpdateGroupResponse>, Status> {
        let operator = self.operator(&request, OperatorNeed::Person).await?;
        let client = request_context::client_info(&request);
        let command = admin_request_decoding::update_group(request.get_ref())?;
        let group = self.admin.update_group(&operator, command, &client).await?;
        Ok(Response::new(proto::UpdateGroupResponse {
            group: Some(response_encoding::group(&group)),
        }))
    }

    #[tracing::instrument(name = "identity.v1.AdminService/DeleteGroup", skip_all, fields(user_id))]
    async fn delete_group(
        &self,
        request: Request<proto::DeleteGroupRequest>,
    ) -> Result<Response<proto::DeleteGroupResponse>, Status> {
        let operator = self.operator(&request, OperatorNeed::Person).await?;
        let client = request_context::client_info(&request);
        let name = admin_request_decoding::group_name("name", &request.get_ref().name)?;
        self.admin.delete_group(&operator, &name, &client).await?;
        Ok(Response::new(proto::DeleteGroupResponse {}))
    }

    #[tracing::instrument(name = "identity.v1.AdminService/AddUserToGroup", skip_all, fields(user_id))]
    async fn add_user_to_group(
        &self,
        request: Request<proto::AddUserToGroupRequest>,
    ) -> Result<Response<proto::AddUserToGroupResponse>, Status> {
        let message = request.get_ref();
        let change = admin_request_decoding::membership_change(&message.user_id, &message.group, true);
        let user = self.change_user_access(&request, change).await?;
        Ok(Response::new(proto::AddUserToGroupResponse { user: Some(user) }))
    }

    #[tracing::instrument(
        name = "identity.v1.AdminService/RemoveUserFromGroup",
        skip_all,
        fields(user_id)
    )]
    async fn remove_user_from_group(
        &self,
        request: Request<proto::RemoveUserFromGroupRequest>,
    ) -> Result<Response<proto::RemoveUserFromGroupResponse>, Status> {
        let message = request.get_ref();
        let change = admin_request_decoding::membership_change(&message.user_id, &message.group, false);
        let user = self.change_user_access(&request, change).await?;
        Ok(Response::new(proto::RemoveUserFromGroupResponse {
            user: Some(user),
        }))
    }

    #[tracing::instrument(
        name = "identity.v1.AdminService/GrantUserPermission",
        skip_all,
        fields(user_id)
    )]
    async fn grant_user_permission(
        &self,
        request: Request<proto::GrantUserPermissionRequest>,
    ) -> Result<Response<proto::GrantUserPermissionResponse>, Status> {
        let message = request.get_ref();
        let change = admin_request_decoding::permission_change(&message.user_id, &message.permission, true);
        let user = self.change_user_access(&request, change).await?;
        Ok(Response::new(proto::GrantUserPermissionResponse {
            user: Some(user),
        }))
    }

    #[tracing::instrument(
        name = "identity.v1.AdminService/RevokeUserPermission",
        skip_all,
        fields(user_id)
    )]
    async fn revoke_user_permission(
        &self,
        request: Request<proto::RevokeUserPermissionRequest>,
    ) -> Result<Response<proto::RevokeUserPermissionResponse>, Status> {
        let message = request.get_ref();
        let change = admin_request_decoding::permission_change(&message.user_id, &message.permission, false);
        let user = self.change_user_access(&request, change).await?;
        Ok(Response::new(proto::RevokeUserPermissionResponse {
            user: Some(user),
        }))
    }

    #[tracing::instrument(name = "identity.v1.AdminService/ResetUserMfa", skip_all, fields(user_id))]
    async fn reset_user_mfa(
        &self,
        request: Request<proto::ResetUserMfaRequest>,
    ) -> Result<Response<proto::ResetUserMfaResponse>, Status> {
        let operator = self.operator(&request, OperatorNeed::Person).await?;
        let client = request_context::client_info(&request);
        let user_id = admin_request_decoding::account_id("user_id", &request.get_ref().user_id)?;
        let user = self.admin.reset_user_mfa(&operator, user_id, &client).await?;
        Ok(Response::new(proto::ResetUserMfaResponse {
            user: Some(response_encoding::user(&user)),
        }))
    }
}
