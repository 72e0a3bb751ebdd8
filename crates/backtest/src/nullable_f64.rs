//! Floats that may be NaN or infinite in JSON: written as `null` when not finite, and `null`
//! read back as NaN (Python writes `NaN`/`Infinity` tokens; serde_json writes `null` and would
//! otherwise refuse to read it back into an `f64`).

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    if value.is_finite() {
        s.serialize_f64(*value)
    } else {
        s.serialize_none()
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}
