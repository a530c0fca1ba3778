//! The `email_verification_tokens` table: see `single_use_token_repository`.

super::single_use_token_repository::single_use_token_repository!(email_verification_token);
