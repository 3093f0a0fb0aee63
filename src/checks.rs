//! Input checks shared by the domain services: every string and object from a client has a
//! bound (DESIGN.md §1.3), and a violation is 400 `validation_failed` naming the field.

use serde_json::Value;

use crate::error::{AppError, AppResult};

/// At most `max` characters; not blank when `required`.
pub fn text(field: &str, value: &str, max: usize, required: bool) -> AppResult<()> {
    if required && value.trim().is_empty() {
        return Err(AppError::validation(field, format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(AppError::validation(field, format!("{field} is longer than {max} characters")));
    }
    Ok(())
}

/// A JSON object of at most 64 KiB.
pub fn metadata(m: &Value) -> AppResult<()> {
    if !m.is_object() {
        return Err(AppError::validation("metadata", "metadata must be a JSON object"));
    }
    if m.to_string().len() > 64 * 1024 {
        return Err(AppError::validation("metadata", "metadata is larger than 64 KiB"));
    }
    Ok(())
}
