//! `identity.v1.AccountService`: decode → service → encode, nothing else.

use tonic::{Request, Response, Status};

use super::bearer_authentication::BearerAuthenticator;
use super::{request_context, request_decoding, response_encoding, second_factor_decoding};
use crate::proto;
use crate::proto::account_service_server::AccountService as AccountRpc;
use crate::services::{
    AccountService, EmailChangeService, PasskeyService, PasswordResetService, TotpService,
};

/// Serves AccountService over the account use cases.
pub struct AccountHandler {
    accounts: AccountService,
    password_resets: PasswordResetService,
    email_changes: EmailChangeService,
    totp: TotpService,
    passkeys: PasskeyService,
    bearer: BearerAuthenticator,
}

/// The account use cases AccountHandler serves beyond the core ones.
pub struct SecondFactorServices {
    pub totp: TotpService,
    pub passkeys: PasskeyService,
}

impl AccountHandler {
    pub fn new(
        accounts: AccountService,
        password_resets: PasswordResetService,
        email_changes: EmailChangeService,
        second_factors: SecondFactorServices,
        bearer: BearerAuthenticator,
    ) -> Self {
        Self {
            accounts,
            password_resets,
            email_changes,
            totp: second_factors.totp,
            passkeys: second_factors.passkeys,
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

    #[tracing::instrument(
        name = "identity.v1.AccountService/BeginTotpEnrollment",
        skip_all,
        fields(user_id)
    )]
    async fn begin_totp_enrollment(
        &self,
        request: Request<proto::BeginTotpEnrollmentRequest>,
    ) -> Result<Response<proto::BeginTotpEnrollmentResponse>, Status> {
        let principal = self.bearer.authenticate(&request).await?;
        let enrollment = self.totp.begin(&principal).await?;
        Ok(Response::new(proto::BeginTotpEnrollmentResponse {
            secret: enrollment.secret,
            otpauth_uri: enrollment.otpauth_uri,
        }))
    }

    #[tracing::instrument(
        name = "identity.v1.AccountService/ConfirmTotpEnrollment",
        skip_all,
        fields(user_id)
    )]
    async fn confirm_totp_enrollment(
        &self,
        request: Request<proto::ConfirmTotpEnrollmentRequest>,
    ) -> Result<Response<proto::ConfirmTotpEnrollmentResponse>, Status> {
        let principal = self.bearer.authenticate(&request).await?;
        let client = request_context::client_info(&request);
        let code = second_factor_decoding::totp_code(&request.get_ref().code)?;
        let recovery_codes = self.totp.confirm(&principal, &code, &client).await?;
        Ok(Response::new(proto::ConfirmTotpEnrollmentResponse {
            recovery_codes,
        }))
    }

    #[tracing::instrument(name = "identity.v1.AccountService/DisableTotp", skip_all, fields(user_id))]
    async fn disable_totp(
        &self,
        request: Request<proto::DisableTotpRequest>,
    ) -> Result<Response<proto::DisableTotpResponse>, Status> {
        let principal = self.bearer.authenticate(&request).await?;
        let client = request_context::client_info(&request);
        let password = second_factor_decoding::password(&request.get_ref().password)?;
        self.totp.disable(&principal, &password, &client).await?;
        Ok(Response::new(proto::DisableTotpResponse {}))
    }

    #[tracing::instrument(
        name = "identity.v1.AccountService/RegenerateRecoveryCodes",
        skip_all,
        fields(user_id)
    )]
    async fn regenerate_recovery_codes(
        &self,
        request: Request<proto::RegenerateRecoveryCodesRequest>,
    ) -> Result<Response<proto::RegenerateRecoveryCodesResponse>, Status> {
        let principal = self.bearer.authenticate(&request).await?;
        let client = request_context::client_info(&request);
        let password = second_factor_decoding::password(&request.get_ref().password)?;
        let recovery_codes = self
            .totp
            .regenerate_recovery_codes(&principal, &password, &client)
            .await?;
        Ok(Response::new(proto::RegenerateRecoveryCodesResponse {
            recovery_codes,
        }))
    }

    #[tracing::instrument(
        name = "identity.v1.AccountService/BeginPasskeyRegistration",
        skip_all,
        fields(user_id)
    )]
    async fn begin_passkey_registration(
        &self,
        request: Request<proto::BeginPasskeyRegistrationRequest>,
    ) -> Result<Response<proto::BeginPasskeyRegistrationResponse>, Status> {
        let principal = self.bearer.authenticate(&request).await?;
        let options_json = self.passkeys.begin_registration(&principal).await?;
        Ok(Response::new(proto::BeginPasskeyRegistrationResponse {
            options_json,
        }))
    }

    #[tracing::instrument(
        name = "identity.v1.AccountService/FinishPasskeyRegistration",
        skip_all,
        fields(user_id)
    )]
    async fn finish_passkey_registration(
        &self,
        request: Request<proto::FinishPasskeyRegistrationRequest>,
    ) -> Result<Response<proto::FinishPasskeyRegistrationResponse>, Status> {
        let principal = self.bearer.authenticate(&request).await?;
        let client = request_context::client_info(&request);
        let credential = second_factor_decoding::credential_json(&request.get_ref().credential_json)?;
        let name = second_factor_decoding::passkey_name(&request.get_ref().name);
        let passkey = self
            .passkeys
            .finish_registration(&principal, credential, &name, &client)
            .await?;
        Ok(Response::new(proto::FinishPasskeyRegistrationResponse {
            passkey: Some(response_encoding::passkey(&passkey)),
        }))
    }

    #[tracing::instrument(name = "identity.v1.AccountService/ListPasskeys", skip_all, fields(user_id))]
    async fn list_passkeys(
        &self,
        request: Request<proto::ListPasskeysRequest>,
    ) -> Result<Response<proto::ListPasskeysResponse>, Status> {
        let principal = self.bearer.authenticate(&request).await?;
        let passkeys = self.passkeys.list(&principal).await?;
        Ok(Response::new(proto::ListPasskeysResponse {
            passkeys: passkeys.iter().map(response_encoding::passkey).collect(),
        }))
    }

    #[tracing::instrument(name = "identity.v1.AccountService/DeletePasskey", skip_all, fields(user_id))]
    async fn delete_passkey(
        &self,
        request: Request<proto::DeletePasskeyRequest>,
    ) -> Result<Response<proto::DeletePasskeyResponse>, Status> {
        let principal = self.bearer.authenticate(&request).await?;
        let client = request_context::client_info(&request);
        let id = second_factor_decoding::passkey_id(&request.get_ref().id)?;
        self.passkeys.delete(&principal, id, &client).await?;
        Ok(Response::new(proto::DeletePasskeyResponse {}))
    }
}
