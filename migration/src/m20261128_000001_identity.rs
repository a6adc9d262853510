//! Regions, users, role grants and refresh tokens: the walking skeleton.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Regions::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Regions::Id))
                    .col(big_integer_null(Regions::ParentId))
                    .col(string_len_uniq(Regions::Code, 12))
                    .col(string_len(Regions::Name, 64))
                    .col(string_len(Regions::Level, 16))
                    .col(string_len_null(Regions::Kind, 8))
                    // Materialised path of ids, "/1/2/3/": a subtree is one indexed LIKE prefix.
                    .col(string_len(Regions::Path, 255))
                    .col(double_null(Regions::Latitude))
                    .col(double_null(Regions::Longitude))
                    .col(timestamp_with_time_zone(Regions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create().from(Regions::Table, Regions::ParentId).to(Regions::Table, Regions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_regions_parent").table(Regions::Table).col(Regions::ParentId).to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_regions_path").table(Regions::Table).col(Regions::Path).to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Users::Id))
                    .col(string_len_null(Users::Openid, 64).unique_key())
                    .col(string_len_null(Users::Unionid, 64))
                    .col(string_len_null(Users::Nickname, 64))
                    .col(string_len_null(Users::AvatarUrl, 512))
                    .col(string_len_null(Users::Phone, 20))
                    .col(big_integer_null(Users::HomeCommunityId))
                    .col(integer(Users::TokenVersion).default(0))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Users::DeletedAt))
                    .foreign_key(
                        ForeignKey::create().from(Users::Table, Users::HomeCommunityId).to(Regions::Table, Regions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_home_community")
                    .table(Users::Table)
                    .col(Users::HomeCommunityId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RoleGrants::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RoleGrants::Id))
                    .col(big_integer(RoleGrants::UserId))
                    .col(string_len(RoleGrants::Role, 24))
                    // A region id for committee/street/civil_affairs, an organization id for
                    // org_staff/org_leader, none for system_admin.
                    .col(big_integer_null(RoleGrants::ScopeId))
                    .col(big_integer_null(RoleGrants::GrantedBy))
                    .col(timestamp_with_time_zone(RoleGrants::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RoleGrants::Table, RoleGrants::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_role_grants_user_role_scope")
                    .table(RoleGrants::Table)
                    .col(RoleGrants::UserId)
                    .col(RoleGrants::Role)
                    .col(RoleGrants::ScopeId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_role_grants_role_scope")
                    .table(RoleGrants::Table)
                    .col(RoleGrants::Role)
                    .col(RoleGrants::ScopeId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RefreshTokens::Id))
                    .col(big_integer(RefreshTokens::UserId))
                    .col(string_len(RefreshTokens::Family, 64))
                    .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RefreshTokens::Table, RefreshTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_family")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::Family)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_user")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_expires")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("Linli's migrations are forward-only".to_owned()))
    }
}

#[derive(DeriveIden)]
enum Regions {
    Table,
    Id,
    ParentId,
    Code,
    Name,
    Level,
    Kind,
    Path,
    Latitude,
    Longitude,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Openid,
    Unionid,
    Nickname,
    AvatarUrl,
    Phone,
    HomeCommunityId,
    TokenVersion,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum RoleGrants {
    Table,
    Id,
    UserId,
    Role,
    ScopeId,
    GrantedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    Family,
    TokenHash,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    CreatedAt,
}
