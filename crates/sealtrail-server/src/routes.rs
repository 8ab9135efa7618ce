//! The API's handlers, one module per resource; the route table is in [`crate::app`].

pub mod directory;
pub mod events;
pub mod export_download;
pub mod export_jobs;
pub mod integrity;
pub mod limits;
pub mod ops;
pub mod prune_and_erase;
pub mod retraced;
pub mod schemas;
pub mod settings;
pub mod sinks;
pub mod tiles;
pub mod witness;
pub mod workos;
