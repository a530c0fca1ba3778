//! The `password_reset_tokens` table: see `single_use_token_repository`.

super::single_use_token_repository::single_use_token_repository!(password_reset_token);
