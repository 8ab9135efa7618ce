//! `sealtrail keys` and `sealtrail tenants`: operator commands on the data directory.
//!
//! They open the database directly (safe while `serve` runs: the store serialises writers
//! across processes) because having shell access to the data directory is what makes someone
//! an operator, and because the first keys must come from somewhere. Every change is recorded
//! in the tenant's own log, attributed to the CLI and the operating-system user who ran it.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use sealtrail_core::entry::{Actor, ActorType};
use sealtrail_core::keys::Scope;
use sealtrail_core::Tenant;
use sealtrail_service::tenants;
use sealtrail_store::Store;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Which database to act on: the embedded one in a data directory, or PostgreSQL.
#[derive(Debug, Args)]
pub struct DataDir {
    /// Directory holding the database (as given to `serve`).
    #[arg(long, env = "SEALTRAIL_DATA_DIR", default_value = "./sealtrail-data")]
    data_dir: PathBuf,
    /// PostgreSQL connection URL (as given to `serve --database`); overrides --data-dir's
    /// database.
    #[arg(long = "database", env = "SEALTRAIL_DATABASE_URL")]
    database_url: Option<String>,
    /// PEM file of the CAs to trust for the database's TLS certificate (as given to `serve`).
    #[arg(long = "database-ca", env = "SEALTRAIL_DATABASE_CA")]
    database_ca: Option<PathBuf>,
    /// The pseudonym key file (as given to `serve`; default: in the data directory).
    #[arg(long, env = "SEALTRAIL_PSEUDONYM_KEY_FILE")]
    pseudonym_key_file: Option<PathBuf>,
}

impl DataDir {
    /// The checkpoint verifier key, from the signing key file `serve` created here.
    pub fn verifier(&self) -> anyhow::Result<sealtrail_core::checkpoint::NoteVerifier> {
        let path = self
            .data_dir
            .join(sealtrail_service::signing::DEFAULT_KEY_FILE);
        if !path.exists() {
            anyhow::bail!(
                "no signing key at {} (run `sealtrail serve` once, or pass --public-key)",
                path.display()
            );
        }
        let (signer, _) = sealtrail_service::signing::load_or_create(
            &path,
            sealtrail_service::signing::DEFAULT_KEY_NAME,
        )?;
        Ok(signer.verifier())
    }

    /// The deployment's pseudonym key, from the file `serve` uses. Never created here: a new
    /// key would give a subject another pseudonym than the running nodes give them.
    pub fn pseudonym_key(&self) -> anyhow::Result<sealtrail_store::PseudonymKey> {
        let path = self.pseudonym_key_file.clone().unwrap_or_else(|| {
            self.data_dir
                .join(sealtrail_service::secret_file::PSEUDONYM_KEY_FILE)
        });
        if !path.exists() {
            anyhow::bail!(
                "no pseudonym key at {} (start `sealtrail serve` once on this version, or pass --pseudonym-key-file with the file the nodes use)",
                path.display()
            );
        }
        Ok(sealtrail_service::secret_file::pseudonym_key(&path)?.0)
    }

    /// Where `serve` remembers the checkpoints it signed.
    pub fn signed_memory_file(&self) -> PathBuf {
        self.data_dir
            .join(sealtrail_service::signed_memory::FILE_NAME)
    }

    /// Opens an existing store; refuses to create one, since a new store made here would skip
    /// the first-start set-up that `serve` performs.
    pub async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        if let Some(url) = &self.database_url {
            return sealtrail_service::stores::open_postgres(url, None, self.database_ca.clone())
                .await
                .with_context(|| {
                    format!("connecting to {}", sealtrail_store::pg::redacted_url(url))
                });
        }
        let db = self.data_dir.join("sealtrail.db");
        if !db.exists() {
            anyhow::bail!(
                "no Sealtrail database in {} (run `sealtrail serve` once, or pass --data-dir)",
                self.data_dir.display()
            );
        }
        sealtrail_service::stores::open_embedded(&self.data_dir)
            .with_context(|| format!("opening {}", db.display()))
    }
}

/// `sealtrail keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; the secret is printed once on stdout, details on stderr.
    Create {
        /// Tenant the key belongs to.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// A label saying what uses the key (e.g. "billing-service").
        #[arg(long)]
        name: String,
        /// Comma-separated scopes: ingest, read, export, monitor, admin.
        #[arg(long, required = true)]
        scopes: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// List a tenant's keys, including revoked ones.
    List {
        /// Tenant whose keys to list.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Revoke a key by its id (the `st_<id>_` part); takes effect at once.
    Revoke {
        /// Key id as shown by `keys list`.
        id: String,
        /// Tenant the key belongs to.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
}

/// `sealtrail tenants ...`
#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Create a tenant (a slug such as `acme`).
    Create {
        /// Name of the new tenant.
        name: String,
        /// Also create an admin key for it and print the secret once.
        #[arg(long)]
        with_admin_key: bool,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// List tenants with the size of their logs.
    List {
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Manage a tenant's aliases: other names (a WorkOS organization id, a Retraced project
    /// id) by which the compatible APIs may name it.
    #[command(subcommand)]
    Alias(AliasCommand),
}

/// `sealtrail tenants alias …`.
#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Give a tenant an alias, e.g. `sealtrail tenants alias add acme org_01EHZNVPK3SFK441A1RGBFSHRT`.
    Add {
        /// The tenant's name.
        tenant: String,
        /// The other name (1-128 visible ASCII characters without '/', '?', '#' or '%').
        alias: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Remove one of a tenant's aliases.
    Remove {
        /// The tenant's name.
        tenant: String,
        /// The alias to remove.
        alias: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// List a tenant's aliases.
    List {
        /// The tenant's name.
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
}

/// The actor recorded for CLI actions: the System, via the CLI, naming the OS user.
pub fn cli_actor() -> Actor {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown user".into());
    Actor {
        kind: ActorType::System,
        id: Some("cli".into()),
        name: Some("Sealtrail CLI".into()),
        email: None,
        via: Some(format!("CLI (OS user {user})")),
    }
}

/// A tenant by name, or an error pointing at `tenants list`.
pub async fn tenant_named(store: &dyn Store, name: &str) -> anyhow::Result<Tenant> {
    store
        .tenant_by_name(name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tenant named `{name}` (see `sealtrail tenants list`)"))
}

/// Runs a `keys` subcommand.
pub async fn keys(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Create {
            tenant,
            name,
            scopes,
            data_dir,
        } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let scopes = Scope::parse_list(&scopes).map_err(anyhow::Error::msg)?;
            let created =
                tenants::create_api_key(store.as_ref(), tenant.id, &name, &scopes, &cli_actor())
                    .await?;
            eprintln!(
                "Created key {} \"{}\" for tenant {} with scopes {} (the secret is shown only now):",
                created.key.id,
                created.key.name,
                tenant.name,
                Scope::join(&created.key.scopes)
            );
            println!("{}", created.plaintext);
        }
        KeysCommand::List { tenant, data_dir } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let keys = store.list_api_keys(tenant.id).await?;
            println!(
                "{:<14}  {:<24}  {:<25}  {:<24}  STATUS",
                "ID", "CREATED (UTC)", "SCOPES", "NAME"
            );
            for key in keys {
                let status = match key.revoked_at {
                    Some(at) => format!("revoked {at}"),
                    None => "active".into(),
                };
                println!(
                    "{:<14}  {:<24}  {:<25}  {:<24}  {status}",
                    key.id,
                    key.created_at.to_string(),
                    Scope::join(&key.scopes),
                    key.name
                );
            }
        }
        KeysCommand::Revoke {
            id,
            tenant,
            data_dir,
        } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let key = tenants::revoke_api_key(store.as_ref(), tenant.id, &id, &cli_actor()).await?;
            let at = key
                .revoked_at
                .map_or_else(|| "now".to_string(), |t| t.to_string());
            println!("Revoked key {} \"{}\" (at {at}).", key.id, key.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a `tenants alias` subcommand.
async fn aliases(command: AliasCommand) -> anyhow::Result<ExitCode> {
    match command {
        AliasCommand::Add {
            tenant,
            alias,
            data_dir,
        } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            tenants::add_alias(store.as_ref(), tenant.id, &alias, &cli_actor()).await?;
            eprintln!("Tenant {} is now also named {alias}.", tenant.name);
        }
        AliasCommand::Remove {
            tenant,
            alias,
            data_dir,
        } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            tenants::remove_alias(store.as_ref(), tenant.id, &alias, &cli_actor()).await?;
            eprintln!("Removed the alias {alias} of tenant {}.", tenant.name);
        }
        AliasCommand::List { tenant, data_dir } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            for alias in store.tenant_aliases(tenant.id).await? {
                println!("{alias}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a `tenants` subcommand.
pub async fn tenants(command: TenantsCommand) -> anyhow::Result<ExitCode> {
    match command {
        TenantsCommand::Create {
            name,
            with_admin_key,
            data_dir,
        } => {
            let store = data_dir.open().await?;
            let actor = cli_actor();
            let tenant = tenants::create_tenant(store.as_ref(), &name, &actor).await?;
            eprintln!("Created tenant {}.", tenant.name);
            if with_admin_key {
                let created = tenants::create_api_key(
                    store.as_ref(),
                    tenant.id,
                    "admin (created with the tenant)",
                    &[Scope::Admin],
                    &actor,
                )
                .await?;
                eprintln!(
                    "Admin key {} (the secret is shown only now):",
                    created.key.id
                );
                println!("{}", created.plaintext);
            }
        }
        TenantsCommand::Alias(command) => return aliases(command).await,
        TenantsCommand::List { data_dir } => {
            let store = data_dir.open().await?;
            println!("{:<32}  {:<24}  ENTRIES", "NAME", "CREATED (UTC)");
            for tenant in store.list_tenants().await? {
                let size = store.log_size(tenant.id).await?;
                println!(
                    "{:<32}  {:<24}  {size}",
                    tenant.name,
                    tenant.created_at.to_string()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
