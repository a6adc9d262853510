//! The web console (网页控制台): sign-in tickets (扫码登录, one per QR code shown) and the
//! console sessions they turn into. Secrets are stored only as their SHA-256.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConsoleTickets {
    Table,
    Id,
    /// The code in the QR (public: anyone seeing the screen sees it).
    Ticket,
    /// SHA-256 of the secret kept in the browser's cookie, which alone may poll.
    BrowserHash,
    UserAgent,
    Ip,
    CreatedAt,
    ExpiresAt,
    ApprovedBy,
    ApprovedAt,
    ConsumedAt,
}

#[derive(DeriveIden)]
enum ConsoleSessions {
    Table,
    Id,
    TokenHash,
    Csrf,
    UserId,
    TokenVersion,
    GrantsDigest,
    UserAgent,
    Ip,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConsoleTickets::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ConsoleTickets::Id))
                    .col(string_len(ConsoleTickets::Ticket, 64))
                    .col(string_len(ConsoleTickets::BrowserHash, 64))
                    .col(string_len(ConsoleTickets::UserAgent, 400))
                    .col(string_len(ConsoleTickets::Ip, 64))
                    .col(timestamp_with_time_zone(ConsoleTickets::CreatedAt))
                    .col(timestamp_with_time_zone(ConsoleTickets::ExpiresAt))
                    .col(big_integer_null(ConsoleTickets::ApprovedBy))
                    .col(timestamp_with_time_zone_null(ConsoleTickets::ApprovedAt))
                    .col(timestamp_with_time_zone_null(ConsoleTickets::ConsumedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("console_tickets_ticket")
                    .table(ConsoleTickets::Table)
                    .col(ConsoleTickets::Ticket)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("console_tickets_expires")
                    .table(ConsoleTickets::Table)
                    .col(ConsoleTickets::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConsoleSessions::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ConsoleSessions::Id))
                    .col(string_len(ConsoleSessions::TokenHash, 64))
                    .col(string_len(ConsoleSessions::Csrf, 64))
                    .col(big_integer(ConsoleSessions::UserId))
                    .col(integer(ConsoleSessions::TokenVersion))
                    .col(string_len(ConsoleSessions::GrantsDigest, 64))
                    .col(string_len(ConsoleSessions::UserAgent, 400))
                    .col(string_len(ConsoleSessions::Ip, 64))
                    .col(timestamp_with_time_zone(ConsoleSessions::CreatedAt))
                    .col(timestamp_with_time_zone(ConsoleSessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ConsoleSessions::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("console_sessions_token_hash")
                    .table(ConsoleSessions::Table)
                    .col(ConsoleSessions::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("console_sessions_user")
                    .table(ConsoleSessions::Table)
                    .col(ConsoleSessions::UserId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}
