//! Turning untrusted request bytes into validated, redacted [`NewEntry`] values.
//! (Being written: strict JSON parsing, validation rules, limits.)
