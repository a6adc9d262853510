//! 授权 (grants): the roles an office administers, granted and revoked from the console.
//!
//! Everything goes through the API's own service functions with the signed-in user, so
//! the grant table (`domain::role::GRANT_RULES`) decides: a committee adds and removes
//! its own colleagues, a street office committees and its own staff, civil affairs all
//! three. A person is named by the phone they bound (`invitations::find_person`, as
//! `POST /people/lookup`), by an invitation code the console makes (`invitations::create`,
//! as `POST /invitations`), or by their user number. Organization roles in the scope are
//! listed but change through the organization's own paths (filing, its leader).

use std::collections::HashMap;

use actix_web::{HttpRequest, get, post, web};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;

use super::{CsrfForm, Frame, PageError, PageResult, Signed, page, pages::role_zh, redirect, shanghai};
use crate::{
    api::invitations::accept_page,
    context::AppContext,
    domain::{
        invitation::display_code,
        role::{Role, ScopeKind, grantable_inside},
    },
    entity::{organization, region, user},
    error::AppError,
    service::{
        self,
        invitations::InvitationInput,
        role_grants::{GrantFilter, may_revoke},
    },
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(grants).service(grant).service(invite).service(revoke);
}

/// How many grants the page lists (the newest are last; the API pages through more).
const LISTED: u64 = 500;

/// `GET /console/grants`: the grants in the office's scope (`role_grants::list`, as
/// `GET /admin/role-grants`), each with who holds it and where, a revoke button where the
/// office may revoke it, and the forms to grant or invite.
#[get("/grants")]
async fn grants(ctx: web::Data<AppContext>, signed: Signed, req: HttpRequest) -> PageResult {
    let seat = signed.seat()?;
    let mut listed = service::role_grants::list(&ctx, signed.user(), GrantFilter::default(), None, LISTED).await?;
    let more = listed.len() as u64 > LISTED;
    listed.truncate(LISTED as usize);

    let user_ids: Vec<i64> = listed.iter().map(|g| g.user_id).collect();
    let nicknames: HashMap<i64, Option<String>> = user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids))
        .all(&ctx.db)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|u| (u.id, u.nickname))
        .collect();
    let scope_ids = |org: bool| -> Vec<i64> {
        listed
            .iter()
            .filter(|g| Role::parse(&g.role).is_some_and(|r| (r.scope_kind() == ScopeKind::Organization) == org))
            .filter_map(|g| g.scope_id)
            .collect()
    };
    let region_names: HashMap<i64, String> = region::Entity::find()
        .filter(region::Column::Id.is_in(scope_ids(false)))
        .all(&ctx.db)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    let org_names: HashMap<i64, String> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(scope_ids(true)))
        .all(&ctx.db)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();

    let mut rows = Vec::with_capacity(listed.len());
    for g in &listed {
        let organization_role = Role::parse(&g.role).is_some_and(|r| r.scope_kind() == ScopeKind::Organization);
        let scope_name = g.scope_id.and_then(|id| {
            if organization_role { org_names.get(&id).cloned() } else { region_names.get(&id).cloned() }
        });
        rows.push(minijinja::context! {
            id => g.id,
            user_id => g.user_id,
            nickname => nicknames.get(&g.user_id).cloned().flatten(),
            mine => g.user_id == signed.user().id,
            role => role_zh(&g.role),
            scope_id => g.scope_id,
            scope_name,
            organization_role,
            revocable => may_revoke(&ctx.db, signed.user(), g).await?,
            created_at => shanghai(g.created_at),
        });
    }

    let roles: Vec<_> = grantable_inside(seat.role)
        .into_iter()
        .map(|r| minijinja::context! { value => r.as_str(), label => role_zh(r.as_str()) })
        .collect();
    let scopes = scope_choices(&ctx, seat.region_id).await?;
    let done = query_value(&req, "done");
    let frame = Frame::new(&ctx, &signed, seat, "grants").await?;
    page("grants.html", minijinja::context! { frame, rows, more, roles, scopes, done })
}

/// The regions a grant may be scoped to from this seat: its own region, its children and
/// their children (a street's communities, a county's streets and their communities).
/// The grant table still decides which of them fits the chosen role.
async fn scope_choices(ctx: &AppContext, seat_region: i64) -> Result<Vec<minijinja::Value>, PageError> {
    let own = service::regions::get(&ctx.db, seat_region).await?;
    let mut choices = vec![minijinja::context! { id => own.id, label => own.name.clone(), depth => 0 }];
    for child in service::regions::children(&ctx.db, Some(own.id), None, 2_000).await? {
        choices.push(minijinja::context! { id => child.id, label => child.name.clone(), depth => 1 });
        if child.level != "community" {
            for grandchild in service::regions::children(&ctx.db, Some(child.id), None, 2_000).await? {
                choices.push(minijinja::context! {
                    id => grandchild.id, label => format!("{} · {}", child.name, grandchild.name), depth => 2
                });
            }
        }
    }
    Ok(choices)
}

/// The value of `name` in the page's query string (`done=granted`, …).
fn query_value(req: &HttpRequest, name: &str) -> Option<String> {
    web::Query::<HashMap<String, String>>::from_query(req.query_string()).ok().and_then(|q| q.get(name).cloned())
}

#[derive(Deserialize)]
struct GrantForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    scope_id: String,
}

fn form_role(role: &str) -> Result<Role, PageError> {
    Role::parse(role.trim()).ok_or_else(|| PageError(AppError::invalid("role", "invalid", "请选择要授予的角色")))
}

fn form_scope(scope_id: &str) -> Result<Option<i64>, PageError> {
    match scope_id.trim() {
        "" => Ok(None),
        s => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| PageError(AppError::invalid("scope_id", "invalid", "请选择授权范围"))),
    }
}

/// `POST /console/grants`: grants a role (`role_grants::grant`, as `POST /admin/role-grants`)
/// to the person who bound `phone` (`invitations::find_person`) or to `user_id`.
#[post("/grants")]
async fn grant(ctx: web::Data<AppContext>, signed: Signed, form: web::Form<GrantForm>) -> PageResult {
    signed.check_csrf(&form.csrf)?;
    signed.seat()?;
    let role = form_role(&form.role)?;
    let scope_id = form_scope(&form.scope_id)?;
    let user_id = match (form.phone.trim(), form.user_id.trim()) {
        ("", "") => return Err(PageError(AppError::invalid("phone", "required", "请填写手机号或用户编号"))),
        ("", id) => {
            id.parse::<i64>().map_err(|_| PageError(AppError::invalid("user_id", "invalid", "用户编号须为数字")))?
        }
        (phone, _) => service::invitations::find_person(&ctx, signed.user(), phone, role, scope_id).await?.user_id,
    };
    let (_, created) = service::role_grants::grant(&ctx, signed.user(), user_id, role, scope_id).await?;
    Ok(redirect(if created { "/console/grants?done=granted" } else { "/console/grants?done=held" }))
}

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    scope_id: String,
    #[serde(default)]
    note: String,
}

/// `POST /console/invitations`: an invitation to a role (`invitations::create`, as
/// `POST /invitations`), shown as its code and the QR code of the mini-program page that
/// accepts it, for someone whose phone is not bound or is shared.
#[post("/invitations")]
async fn invite(ctx: web::Data<AppContext>, signed: Signed, form: web::Form<InviteForm>) -> PageResult {
    signed.check_csrf(&form.csrf)?;
    let seat = signed.seat()?;
    let input = InvitationInput {
        role: form_role(&form.role)?,
        scope_id: form_scope(&form.scope_id)?,
        ttl_hours: None,
        note: Some(form.note.trim().to_owned()).filter(|n| !n.is_empty()),
    };
    let made = service::invitations::create(&ctx, signed.user(), input).await?;
    let page_path = accept_page(&made.invitation.code);
    let qr = super::login::qr_svg(&page_path)?;
    let frame = Frame::new(&ctx, &signed, seat, "grants").await?;
    page(
        "invitation.html",
        minijinja::context! {
            frame,
            code => display_code(&made.invitation.code),
            page_path,
            qr => minijinja::Value::from_safe_string(qr),
            role => role_zh(made.role.as_str()),
            scope_name => made.scope_name,
            expires_at => shanghai(made.invitation.expires_at),
        },
    )
}

/// `POST /console/grants/{id}/revoke`: removes a grant (`role_grants::revoke`, as
/// `DELETE /admin/role-grants/{id}`).
#[post("/grants/{id}/revoke")]
async fn revoke(
    ctx: web::Data<AppContext>,
    signed: Signed,
    id: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> PageResult {
    signed.check_csrf(&form.csrf)?;
    signed.seat()?;
    service::role_grants::revoke(&ctx, signed.user(), id.into_inner()).await?;
    Ok(redirect("/console/grants?done=revoked"))
}
