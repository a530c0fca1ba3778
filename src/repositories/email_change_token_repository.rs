//! The `email_change_tokens` table: see `single_use_token_repository`.

super::single_use_token_repository::single_use_token_repository!(email_change_token);
