//! Secret redaction before anything is hashed or stored.
//! (Being written.)
