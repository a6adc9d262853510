//! The time bank (时间银行): a community's (or a street's) ledger of mutual-aid time in
//! integer minutes. Members' accounts and the bank's own; offers and requests; agreements
//! between a helper and a helped; transfers, each written as two movements that are never
//! edited (a correction is a reversing transfer). Activities may be marked as credited by
//! the bank.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TimeBanks {
    Table,
    Id,
    RegionId,
    Name,
    FloorMinutes,
    ManagingOrgId,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TimeBankAccounts {
    Table,
    Id,
    BankId,
    UserId,
    Status,
    Balance,
    ReviewedBy,
    ReviewReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TimeBankListings {
    Table,
    Id,
    BankId,
    AccountId,
    Kind,
    Category,
    Title,
    Description,
    Minutes,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TimeBankAgreements {
    Table,
    Id,
    BankId,
    ListingId,
    HelperAccountId,
    HelpedAccountId,
    ProposedBy,
    Minutes,
    Status,
    TransferId,
    ConfirmedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TimeBankTransfers {
    Table,
    Id,
    BankId,
    FromAccountId,
    ToAccountId,
    Minutes,
    Kind,
    AgreementId,
    ActivityId,
    ReversesId,
    Reason,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TimeBankMovements {
    Table,
    Id,
    TransferId,
    AccountId,
    Minutes,
    BalanceAfter,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Activities {
    Table,
    TimeBankCredited,
}

fn index(name: &str, table: impl IntoIden, cols: &[&str], unique: bool) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(Alias::new(*c));
    }
    if unique {
        i.unique();
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TimeBanks::Table)
                    .if_not_exists()
                    .col(big_pk_auto(TimeBanks::Id))
                    .col(big_integer(TimeBanks::RegionId))
                    .col(string_len(TimeBanks::Name, 64))
                    .col(big_integer(TimeBanks::FloorMinutes))
                    .col(big_integer_null(TimeBanks::ManagingOrgId))
                    .col(big_integer(TimeBanks::CreatedBy))
                    .col(timestamp_with_time_zone(TimeBanks::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("time_banks_region", TimeBanks::Table, &["region_id"], true)).await?;
        manager
            .create_table(
                Table::create()
                    .table(TimeBankAccounts::Table)
                    .if_not_exists()
                    .col(big_pk_auto(TimeBankAccounts::Id))
                    .col(big_integer(TimeBankAccounts::BankId))
                    .col(big_integer_null(TimeBankAccounts::UserId))
                    .col(string_len(TimeBankAccounts::Status, 16))
                    .col(big_integer(TimeBankAccounts::Balance))
                    .col(big_integer_null(TimeBankAccounts::ReviewedBy))
                    .col(string_len_null(TimeBankAccounts::ReviewReason, 200))
                    .col(timestamp_with_time_zone(TimeBankAccounts::CreatedAt))
                    .col(timestamp_with_time_zone(TimeBankAccounts::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("time_bank_accounts_member", TimeBankAccounts::Table, &["bank_id", "user_id"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TimeBankListings::Table)
                    .if_not_exists()
                    .col(big_pk_auto(TimeBankListings::Id))
                    .col(big_integer(TimeBankListings::BankId))
                    .col(big_integer(TimeBankListings::AccountId))
                    .col(string_len(TimeBankListings::Kind, 16))
                    .col(string_len(TimeBankListings::Category, 32))
                    .col(string_len(TimeBankListings::Title, 64))
                    .col(text(TimeBankListings::Description))
                    .col(big_integer(TimeBankListings::Minutes))
                    .col(string_len(TimeBankListings::Status, 16))
                    .col(timestamp_with_time_zone(TimeBankListings::CreatedAt))
                    .col(timestamp_with_time_zone(TimeBankListings::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "time_bank_listings_bank",
                TimeBankListings::Table,
                &["bank_id", "status", "id"],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TimeBankAgreements::Table)
                    .if_not_exists()
                    .col(big_pk_auto(TimeBankAgreements::Id))
                    .col(big_integer(TimeBankAgreements::BankId))
                    .col(big_integer(TimeBankAgreements::ListingId))
                    .col(big_integer(TimeBankAgreements::HelperAccountId))
                    .col(big_integer(TimeBankAgreements::HelpedAccountId))
                    .col(big_integer(TimeBankAgreements::ProposedBy))
                    .col(big_integer(TimeBankAgreements::Minutes))
                    .col(string_len(TimeBankAgreements::Status, 16))
                    .col(big_integer_null(TimeBankAgreements::TransferId))
                    .col(big_integer_null(TimeBankAgreements::ConfirmedBy))
                    .col(timestamp_with_time_zone(TimeBankAgreements::CreatedAt))
                    .col(timestamp_with_time_zone(TimeBankAgreements::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("time_bank_agreements_listing", TimeBankAgreements::Table, &["listing_id"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TimeBankTransfers::Table)
                    .if_not_exists()
                    .col(big_pk_auto(TimeBankTransfers::Id))
                    .col(big_integer(TimeBankTransfers::BankId))
                    .col(big_integer(TimeBankTransfers::FromAccountId))
                    .col(big_integer(TimeBankTransfers::ToAccountId))
                    .col(big_integer(TimeBankTransfers::Minutes))
                    .col(string_len(TimeBankTransfers::Kind, 16))
                    .col(big_integer_null(TimeBankTransfers::AgreementId))
                    .col(big_integer_null(TimeBankTransfers::ActivityId))
                    .col(big_integer_null(TimeBankTransfers::ReversesId))
                    .col(string_len_null(TimeBankTransfers::Reason, 200))
                    .col(big_integer_null(TimeBankTransfers::CreatedBy))
                    .col(timestamp_with_time_zone(TimeBankTransfers::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "time_bank_transfers_bank",
                TimeBankTransfers::Table,
                &["bank_id", "created_at"],
                false,
            ))
            .await?;
        // One reversal per transfer; one confirmation per agreement; one credit per
        // activity and account.
        manager
            .create_index(index("time_bank_transfers_reverses", TimeBankTransfers::Table, &["reverses_id"], true))
            .await?;
        manager
            .create_index(index("time_bank_transfers_agreement", TimeBankTransfers::Table, &["agreement_id"], true))
            .await?;
        manager
            .create_index(index(
                "time_bank_transfers_activity",
                TimeBankTransfers::Table,
                &["activity_id", "to_account_id"],
                true,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TimeBankMovements::Table)
                    .if_not_exists()
                    .col(big_pk_auto(TimeBankMovements::Id))
                    .col(big_integer(TimeBankMovements::TransferId))
                    .col(big_integer(TimeBankMovements::AccountId))
                    .col(big_integer(TimeBankMovements::Minutes))
                    .col(big_integer(TimeBankMovements::BalanceAfter))
                    .col(timestamp_with_time_zone(TimeBankMovements::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("time_bank_movements_account", TimeBankMovements::Table, &["account_id", "id"], false))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Activities::Table)
                    .add_column(boolean(Activities::TimeBankCredited).default(false))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}
