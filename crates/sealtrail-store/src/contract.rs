//! Shared contract suite (being written).
