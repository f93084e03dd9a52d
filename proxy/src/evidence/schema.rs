//! The store's schema: versioned migrations embedded in the binary, applied by
//! `sluice ledger store init`, checked by everything else.
//!
//! Tables (all insert-only for the shipper; see `deploy/docs/evidence-store.md` for the grants):
//!
//! - `sluice_origins`: one row per log, with the Ed25519 public key its checkpoints are signed
//!   with (the first shipper of an origin registers it; another key later is refused);
//! - `sluice_entries`: every entry's canonical bytes, keyed by origin and sequence number;
//! - `sluice_checkpoints`: every signed checkpoint note with its size and root;
//! - `sluice_subjects`: the subject hashes of each disclosure (inline and side-file ones),
//!   indexed by hash: "which partners received data about this person" over every replica;
//! - `sluice_alarms`: what the shippers refused (a fork, a rewritten entry, a changed key).

use tokio_postgres::{Client, GenericClient};

use super::{StoreError, StoreUrl};

/// The migrations, in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE sluice_origins (
    origin        text PRIMARY KEY,
    public_key    bytea NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE sluice_entries (
    origin  text   NOT NULL REFERENCES sluice_origins (origin),
    seq     bigint NOT NULL CHECK (seq >= 0),
    time_ms bigint NOT NULL,
    kind    text   NOT NULL,
    record  bytea  NOT NULL,
    PRIMARY KEY (origin, seq)
);
CREATE TABLE sluice_checkpoints (
    origin text   NOT NULL REFERENCES sluice_origins (origin),
    size   bigint NOT NULL CHECK (size >= 0),
    root   bytea  NOT NULL,
    note   text   NOT NULL,
    PRIMARY KEY (origin, size)
);
CREATE TABLE sluice_subjects (
    origin    text    NOT NULL REFERENCES sluice_origins (origin),
    end_seq   bigint  NOT NULL,
    position  integer NOT NULL,
    begin_seq bigint  NOT NULL,
    subject   bytea   NOT NULL,
    PRIMARY KEY (origin, end_seq, position)
);
CREATE INDEX sluice_subjects_by_subject ON sluice_subjects (subject);
CREATE TABLE sluice_alarms (
    id     bigserial PRIMARY KEY,
    origin text      NOT NULL,
    seq    bigint,
    kind   text      NOT NULL,
    detail text      NOT NULL,
    at     timestamptz NOT NULL DEFAULT now()
);
"#];

/// The schema version this binary writes and reads.
pub const VERSION: i32 = MIGRATIONS.len() as i32;

/// The store's schema version; 0 when it has none yet.
async fn current(client: &impl GenericClient, url: &StoreUrl) -> Result<i32, StoreError> {
    let exists = client
        .query_one("SELECT to_regclass('sluice_schema') IS NOT NULL", &[])
        .await
        .map_err(|e| StoreError::db(url, "reading the schema version", e))?;
    if !exists.get::<_, bool>(0) {
        return Ok(0);
    }
    let row = client
        .query_opt("SELECT version FROM sluice_schema", &[])
        .await
        .map_err(|e| StoreError::db(url, "reading the schema version", e))?;
    Ok(row.map_or(0, |r| r.get(0)))
}

fn newer(url: &StoreUrl, version: i32) -> StoreError {
    StoreError::Schema(format!(
        "{url}: the store's schema is version {version}, newer than this sluice knows ({VERSION}): upgrade sluice before using this store"
    ))
}

/// Creates or migrates the schema; returns the versions before and after.
pub async fn init(client: &mut Client, url: &StoreUrl) -> Result<(i32, i32), StoreError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| StoreError::db(url, "starting the migration", e))?;
    // One migrator at a time (two replicas' operators running init at once).
    tx.batch_execute("SELECT pg_advisory_xact_lock(7305813420)")
        .await
        .map_err(|e| StoreError::db(url, "locking the schema", e))?;
    let before = current(&tx, url).await?;
    if before > VERSION {
        return Err(newer(url, before));
    }
    if before == 0 {
        tx.batch_execute("CREATE TABLE IF NOT EXISTS sluice_schema (version integer NOT NULL)")
            .await
            .map_err(|e| StoreError::db(url, "creating the schema table", e))?;
    }
    if before == VERSION {
        return Ok((before, VERSION)); // nothing written: up to date
    }
    for migration in &MIGRATIONS[before as usize..] {
        tx.batch_execute(migration)
            .await
            .map_err(|e| StoreError::db(url, "migrating the schema", e))?;
    }
    tx.execute("DELETE FROM sluice_schema", &[])
        .await
        .and(
            tx.execute(
                "INSERT INTO sluice_schema (version) VALUES ($1)",
                &[&VERSION],
            )
            .await,
        )
        .map_err(|e| StoreError::db(url, "recording the schema version", e))?;
    tx.commit()
        .await
        .map_err(|e| StoreError::db(url, "committing the migration", e))?;
    Ok((before, VERSION))
}

/// Fails unless the store has exactly this binary's schema.
pub async fn check(client: &Client, url: &StoreUrl) -> Result<(), StoreError> {
    match current(client, url).await? {
        v if v == VERSION => Ok(()),
        v if v > VERSION => Err(newer(url, v)),
        0 => Err(StoreError::Schema(format!(
            "{url}: the store has no sluice schema; run `sluice ledger store init URL` first"
        ))),
        v => Err(StoreError::Schema(format!(
            "{url}: the store's schema is version {v}, older than this sluice's ({VERSION}); run `sluice ledger store init URL` to migrate it"
        ))),
    }
}
