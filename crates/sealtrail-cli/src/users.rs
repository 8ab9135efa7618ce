//! `sealtrail users`: the people who sign in to the web page, managed from the data directory.
//!
//! Every rule (roles, password length, the last active owner, sessions ending) lives in
//! `sealtrail_service::users`, shared with the web page; this module only parses arguments,
//! reads passwords from stdin and prints. Each change leaves the audit entry the service's users module
//! writes, attributed to the CLI operator. Like `keys create`, a generated password is the only
//! thing printed on stdout (so `PW=$(sealtrail users create …)` works); the rest goes to stderr.

use crate::local::{cli_actor, tenant_named, DataDir};
use anyhow::Context as _;
use clap::Subcommand;
use sealtrail_core::users::{Role, User, MAX_PASSWORD_BYTES};
use sealtrail_core::Tenant;
use sealtrail_service::users::{self, Acting};
use sealtrail_service::ServiceError;
use sealtrail_store::Store;
use std::io::{BufRead as _, IsTerminal as _, Read as _};
use std::process::ExitCode;

/// `sealtrail users ...`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user; a generated first password is printed once on stdout, details on stderr.
    Create {
        /// Sign-in e-mail address (unique within the tenant).
        #[arg(long)]
        email: String,
        /// Display name (default: the part of the e-mail before `@`).
        #[arg(long)]
        name: Option<String>,
        /// Role: owner, super-admin, admin, it-admin, manager, reporter, hr, member.
        #[arg(long)]
        role: String,
        /// Read the password from the first line of stdin instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        /// Tenant (workspace) the user belongs to.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// List a tenant's users, deactivated ones included (never their password hashes).
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// Tenant whose users to list.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Give a user another role (the tenant's last active owner keeps the owner role).
    SetRole {
        /// The user's id or e-mail address.
        user: String,
        /// The new role: owner, super-admin, admin, it-admin, manager, reporter, hr, member.
        role: String,
        /// Tenant the user belongs to.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Deactivate a user: they can no longer sign in and their sessions end at once.
    Deactivate {
        /// The user's id or e-mail address.
        user: String,
        /// Tenant the user belongs to.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Set a new password (generated and printed once, or read from stdin); sessions end.
    ResetPassword {
        /// The user's id or e-mail address.
        user: String,
        /// Read the new password from the first line of stdin instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        /// Tenant the user belongs to.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
}

/// Runs a `users` subcommand.
pub async fn run(command: UsersCommand) -> anyhow::Result<ExitCode> {
    let by = Acting::operator(cli_actor());
    match command {
        UsersCommand::Create {
            email,
            name,
            role,
            password_stdin,
            tenant,
            data_dir,
        } => {
            let role = parse_role(&role)?;
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let password = password_stdin.then(read_password).transpose()?;
            let created = users::create_user(
                store.as_ref(),
                tenant.id,
                &email,
                name.as_deref(),
                role,
                password,
                &by,
            )
            .await
            .map_err(|e| refused(e, &tenant, "cannot create the user"))?;
            let user = &created.user;
            eprintln!(
                "Created user {} \"{}\" with role {} in tenant {} (id {}).",
                user.email, user.name, user.role, tenant.name, user.id
            );
            eprintln!("They sign in at {}.", signin_url(&tenant));
            if let Some(password) = created.generated_password {
                eprintln!("First password (shown only now; they can change it under Account):");
                println!("{password}");
            }
        }
        UsersCommand::List {
            json,
            tenant,
            data_dir,
        } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let users = store.list_users(tenant.id).await?;
            if json {
                let list: Vec<_> = users.iter().map(user_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_table(&users);
            }
        }
        UsersCommand::SetRole {
            user,
            role,
            tenant,
            data_dir,
        } => {
            let role = parse_role(&role)?;
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let before = find(store.as_ref(), &tenant, &user).await?;
            let after = users::change_role(store.as_ref(), tenant.id, &before.id, role, &by)
                .await
                .map_err(|e| {
                    refused(e, &tenant, &format!("cannot make {} {role}", before.email))
                })?;
            if before.role == after.role {
                println!("{} already has the role {}.", after.email, after.role);
            } else {
                println!(
                    "{} is now {} (was {}).",
                    after.email, after.role, before.role
                );
            }
        }
        UsersCommand::Deactivate {
            user,
            tenant,
            data_dir,
        } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let before = find(store.as_ref(), &tenant, &user).await?;
            let after = users::deactivate_user(store.as_ref(), tenant.id, &before.id, &by)
                .await
                .map_err(|e| refused(e, &tenant, &format!("cannot deactivate {}", before.email)))?;
            match (before.deactivated_at, after.deactivated_at) {
                (Some(at), _) => println!("{} was already deactivated (at {at}).", after.email),
                (None, at) => println!(
                    "Deactivated {} (at {}): they can no longer sign in and their sessions have ended.",
                    after.email,
                    at.map_or_else(|| "now".to_string(), |t| t.to_string())
                ),
            }
        }
        UsersCommand::ResetPassword {
            user,
            password_stdin,
            tenant,
            data_dir,
        } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let target = find(store.as_ref(), &tenant, &user).await?;
            let password = password_stdin.then(read_password).transpose()?;
            let generated =
                users::set_password(store.as_ref(), tenant.id, &target.id, None, password, &by)
                    .await
                    .map_err(|e| {
                        refused(
                            e,
                            &tenant,
                            &format!("cannot set the password of {}", target.email),
                        )
                    })?;
            eprintln!(
                "Set a new password for {}; their sessions have ended.",
                target.email
            );
            if !target.is_active() {
                eprintln!("Note: the account is deactivated, so it still cannot sign in.");
            }
            if let Some(password) = generated {
                eprintln!("New password (shown only now; they can change it under Account):");
                println!("{password}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A role, or the core's error listing every valid one.
fn parse_role(role: &str) -> anyhow::Result<Role> {
    role.parse::<Role>().map_err(anyhow::Error::msg)
}

/// The user by id or e-mail, or an error pointing at `users list`.
async fn find(store: &dyn Store, tenant: &Tenant, user: &str) -> anyhow::Result<User> {
    users::find_user(store, tenant.id, user)
        .await
        .map_err(|e| refused(e, tenant, "cannot find the user"))
}

/// Phrases an accounts error for the operator: an unknown user points at `users list`; a
/// refusal (invalid input, last owner) keeps the service's users module's own message.
fn refused(error: ServiceError, tenant: &Tenant, doing: &str) -> anyhow::Error {
    match error {
        ServiceError::NotFound(what) => anyhow::anyhow!(
            "no {what} in tenant `{0}` (see `sealtrail users list --tenant {0}`)",
            tenant.name
        ),
        ServiceError::Invalid(message) | ServiceError::Refused(message) => {
            anyhow::anyhow!("{doing}: {message}")
        }
        other => anyhow::Error::new(other).context(doing.to_string()),
    }
}

/// Reads one line from stdin as the password (without its line ending), so it never appears in
/// shell history or the process list. Length rules are checked by the service's users module.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Password (one line, at least 12 characters; it will be shown as typed):");
    }
    let mut line = String::new();
    // A little over the longest password accepted, so a longer one is refused by the accounts
    // module's rule (with its message) rather than read without bound.
    let limit = (MAX_PASSWORD_BYTES + 3) as u64;
    let read = stdin
        .lock()
        .take(limit)
        .read_line(&mut line)
        .context("reading the password from stdin (--password-stdin)")?;
    if read == 0 {
        anyhow::bail!("--password-stdin: stdin was empty; give the password as one line");
    }
    let password = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line);
    Ok(password.to_string())
}

/// Where the tenant's people sign in: under `SEALTRAIL_URL` when it is set (as for `query`).
fn signin_url(tenant: &Tenant) -> String {
    let path = format!("/signin?workspace={}", tenant.name);
    match std::env::var("SEALTRAIL_URL") {
        Ok(base) if !base.trim().is_empty() => {
            format!("{}{path}", base.trim().trim_end_matches('/'))
        }
        _ => format!("<your Sealtrail URL>{path}"),
    }
}

fn status(user: &User) -> &'static str {
    if user.is_active() {
        "active"
    } else {
        "deactivated"
    }
}

/// A user for `list --json`: named fields only, so nothing secret can slip in.
fn user_json(user: &User) -> serde_json::Value {
    serde_json::json!({
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.as_str(),
        "status": status(user),
        "created_at": user.created_at.to_string(),
        "deactivated_at": user.deactivated_at.map(|t| t.to_string()),
    })
}

fn print_table(users: &[User]) {
    let width = |header: &str, cell: &dyn Fn(&User) -> usize| {
        users.iter().map(cell).max().unwrap_or(0).max(header.len())
    };
    let email_w = width("EMAIL", &|u| u.email.chars().count());
    let name_w = width("NAME", &|u| u.name.chars().count());
    let role_w = width("ROLE", &|u| u.role.as_str().len());
    let status_w = "deactivated".len();
    let created_w = 24;
    println!(
        "{:<email_w$}  {:<name_w$}  {:<role_w$}  {:<status_w$}  {:<created_w$}  ID",
        "EMAIL", "NAME", "ROLE", "STATUS", "CREATED (UTC)"
    );
    for user in users {
        println!(
            "{:<email_w$}  {:<name_w$}  {:<role_w$}  {:<status_w$}  {:<created_w$}  {}",
            user.email,
            user.name,
            user.role.as_str(),
            status(user),
            user.created_at.to_string(),
            user.id
        );
    }
}
