//! `identity.v1.AccountService`: decode → service → encode, nothing else.

use tonic::{Request, Response, Status};

use super::bearer_authentication::BearerAuthenticator;
use super::{request_context, request_decoding, response_encoding};
use crate::proto;
use crate::proto::account_service_server::AccountService as AccountRpc;
use crate::services::{AccountService, EmailChangeService, PasswordResetService};

/// Serves AccountService over the account use cases.
pub struct AccountHandler {
    accounts: AccountService,
    password_resets: PasswordResetService,
    email_changes: EmailChangeService,
    bearer: BearerAuthenticator,
}

impl AccountHandler {
    pub fn new(
        accounts: AccountService,
        password_resets: PasswordResetService,
        email_changes: EmailChangeService,
        bearer: BearerAuthenticator,
    ) -> Self {
        Self {
            accounts,
            password_resets,
            email_changes,
            bearer,
        }
    }
}

#[tonic::async_trait]
impl AccountRpc for AccountHandler {
    #[tracing::instrument(name = "identity.v1.AccountService/Signup", skip_all)]
    async fn signup(
        &self,
        request: Request<proto::SignupRequest>,
    ) -> Result<Response<proto::SignupResponse>, Status> {
        let client = request_context::client_info(&request);
        let command = request_decoding::signup(request.into_inner())?;
        let user = self.accounts.signup(command, &client).await?;
        Ok(Response::new(proto::SignupResponse {
            user: Some(response_encoding::user(&user)),
        }))
    }

    #[tracing::instrument(name = "identity.v1.AccountService/VerifyEmail", skip_all)]
    async fn verify_email(
        &self,
        request: Request<proto::VerifyEmailRequest>,
    ) -> Result<Response<proto::VerifyEmailResponse>, Status> {
        let client = request_context::client_info(&request);
        let token = request_decoding::verify_email(request.get_ref())?;
        let user = self.accounts.verify_email(token, &client).await?;
        Ok(Response::new(proto::VerifyEmailResponse {
            user: Some(response_encoding::user(&user)),
        }))
    }

    #[tracing::instrument(name = "identity.v1.AccountService/ResendVerificationEmail", skip_all)]
    async fn resend_verification_email(
        &self,
        request: Request<proto::ResendVerificationEmailRequest>,
    ) -> Result<Response<proto::ResendVerificationEmailResponse>, Status> {
        let client = request_context::client_info(&request);
        let email = request_decoding::email(&request.get_ref().email)?;
        self.accounts.resend_verification_email(email, &client).await?;
        Ok(Response::new(proto::ResendVerificationEmailResponse {}))
    }

    #[tracing::instrument(name = "identity.v1.AccountService/RequestPasswordReset", skip_all)]
    async fn request_password_reset(
        &self,
        request: Request<proto::RequestPasswordResetRequest>,
    ) -> Result<Response<proto::RequestPasswordResetResponse>, Status> {
        let client = request_context::client_info(&request);
        let email = request_decoding::email(&request.get_ref().email)?;
        self.password_resets
            .request_password_reset(email, &client)
            .await?;
        Ok(Response::new(proto::RequestPasswordResetResponse {}))
    }

    #[tracing::instrument(name = "identity.v1.AccountService/ResetPassword", skip_all, fields(user_id))]
    async fn reset_password(
        &self,
        request: Request<proto::ResetPasswordRequest>,
    ) -> Result<Response<proto::ResetPasswordResponse>, Status> {
        let client = request_context::client_info(&request);
        let command = request_decoding::reset_password(request.get_ref())?;
        self.password_resets.reset_password(command, &client).await?;
        Ok(Response::new(proto::ResetPasswordResponse {}))
    }

    #[tracing::instrument(name = "identity.v1.AccountService/ChangePassword", skip_all, fields(user_id))]
    async fn change_password(
        &self,
        request: Request<proto::ChangePasswordRequest>,
    ) -> Result<Response<proto::ChangePasswordResponse>, Status> {
        let principal = self.bearer.authenticate(&request).await?;
        let client = request_context::client_info(&request);
        let command = request_decoding::change_password(request.get_ref())?;
        self.accounts
            .change_password(&principal, command, &client)
            .await?;
        Ok(Response::new(proto::ChangePasswordResponse {}))
    }

    #[tracing::instrument(name = "identity.v1.AccountService/DeleteAccount", skip_all, fields(user_id))]
    async fn delete_account(
        &self,
        request: Request<proto::DeleteAccountRequest>,
    ) -> Result<Response<proto::DeleteAccountResponse>, Status> {
        let principal = self.bearer.authenticate(&request).await?;
        let client = request_context::client_info(&request);
        let password = request_decoding::delete_account(request.get_ref())?;
        self.accounts
            .delete_account(&principal, &password, &client)
            .await?;
        Ok(Response::new(proto::DeleteAccountResponse {}))
    }

    #[tracing::instrument(
        name = "identity.v1.AccountService/RequestEmailChange",
        skip_all,
        fields(user_id)
    )]
    async fn request_email_change(
        &self,
        request: Request<proto::RequestEmailChangeRequest>,
    ) -> Result<Response<proto::RequestEmailChangeResponse>, Status> {
        let principal = self.bearer.authenticate(&request).await?;
        let client = request_context::client_info(&request);
        let command = request_decoding::request_email_change(request.get_ref())?;
        self.email_changes
            .request_email_change(&principal, command, &client)
            .await?;
        Ok(Response::new(proto::RequestEmailChangeResponse {}))
    }

    #[tracing::instrument(
        name = "identity.v1.AccountService/ConfirmEmailChange",
        skip_all,
        fields(user_id)
    )]
    async fn confirm_email_change(
        &self,
        request: Request<proto::ConfirmEmailChangeRequest>,
    ) -> Result<Response<proto::ConfirmEmailChangeResponse>, Status> {
        let client = request_context::client_info(&request);
        let token = request_decoding::opaque_token("token", &request.get_ref().token)?;
        let user = self.email_changes.confirm_email_change(token, &client).await?;
        Ok(Response::new(proto::ConfirmEmailChangeResponse {
            user: Some(response_encoding::user(&user)),
        }))
    }

    #[tracing::instrument(name = "identity.v1.AccountService/GetAccount", skip_all, fields(user_id))]
    async fn get_account(
        &self,
        request: Request<proto::GetAccountRequest>,
    ) -> Result<Response<proto::GetAccountResponse>, Status> {
        let principal = self.bearer.authenticate_with_access(&request).await?;
        let user = self.accounts.get_account(&principal);
        Ok(Response::new(proto::GetAccountResponse {
            user: Some(response_encoding::user(&user)),
        }))
    }
}
